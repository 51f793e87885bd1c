"""The app in-process for tests: settings free of stray environment, a client once the model settled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.testclient import TestClient

from service.core.config import Settings
from service.inference.model import LesionModel, ModelState
from service.main import create_app
from tests.service.fakes import FakeOpener


@dataclass
class Served:
    client: TestClient
    model: LesionModel
    opener: object

    @property
    def engine(self):
        return self.opener.engine


def wait_until_settled(model: LesionModel, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while model.state is ModelState.LOADING:
        if time.monotonic() > deadline:
            raise TimeoutError("model did not finish loading")
        time.sleep(0.01)


@contextmanager
def serving(settings: Settings, opener=None, *, wait: bool = True, **client_options) -> Iterator[Served]:
    """The app over `settings`, with the fake engine unless another opener is given."""
    opener = opener if opener is not None else FakeOpener()
    model = LesionModel(settings, opener=opener)
    with TestClient(create_app(settings, model), **client_options) as client:
        if wait:
            wait_until_settled(model)
        yield Served(client, model, opener)


def upload(data: bytes, name: str = "lesion.jpg", content_type: str = "application/octet-stream") -> dict:
    return {"file": (name, data, content_type)}
