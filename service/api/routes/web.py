"""The static web page at / (service/static/index.html, when someone has put it there)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def read_index() -> FileResponse:
    """Serve the web page; 404 problem while it does not exist."""
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        raise HTTPException(404, "no web page is installed (service/static/index.html)")
    return FileResponse(index, media_type="text/html")
