"""The HTTP floor: a FastAPI app that takes the same multipart upload as /predict and answers a small JSON body,
with nothing in between. Served by the same uvicorn command as the service, it is what any FastAPI endpoint of
this shape costs on this machine and client; bench.http_e2e times it beside /predict and raw LiteRT.

    python -m uvicorn bench.floor_app:app
"""

from typing import Annotated

from fastapi import FastAPI, File, UploadFile

app = FastAPI()
UPLOAD_PATH = "/upload"


@app.post(UPLOAD_PATH)
async def upload(file: Annotated[UploadFile, File()]) -> dict:
    data = await file.read()
    return {"bytes": len(data), "probability": 0.5, "label": "non-cancerous"}


@app.get("/healthz")
@app.get("/readyz")
async def ready() -> dict:  # bench.common.Server.wait_until_ready polls both
    return {"status": "ok"}
