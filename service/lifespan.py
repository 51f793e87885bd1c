"""Startup and shutdown: load the model in the background so liveness answers while it loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    model = app.state.model
    async with anyio.create_task_group() as background:
        # load → warm-up → ready happens in a worker thread; /readyz says 503 until it is done.
        background.start_soon(lambda: anyio.to_thread.run_sync(model.load, abandon_on_cancel=True))
        yield
        background.cancel_scope.cancel()
    model.close()
