"""The API-key gate: it guards exactly the routes that declare the key, and answers before a body is parsed."""

from __future__ import annotations

import re

import pytest
from starlette.formparsers import MultiPartParser

from service.api.api_key import keyed_paths
from service.api.main import ROUTERS
from tests.service import sample_images as images
from tests.service.harness import serving, upload

KEY = "correct-horse-battery-staple-42"


def test_the_gate_guards_every_path_whose_operation_declares_the_key_and_no_other(served):
    patterns = keyed_paths(ROUTERS)
    schema = served.client.get("/openapi.json").json()
    for template, operations in schema["paths"].items():
        declares_key = any(operation.get("security") for operation in operations.values())
        example = re.sub(r"\{[^}]+\}", "some-name", template)
        assert any(pattern.match(example) for pattern in patterns) == declares_key, template
    assert not any(pattern.match(path) for pattern in patterns for path in ("/", "/docs", "/v2/health/live"))


@pytest.fixture
def parsed_forms(monkeypatch) -> list[int]:
    """Counts the multipart bodies the app starts to parse."""
    calls: list[int] = []
    original = MultiPartParser.parse

    async def counting(self):
        calls.append(1)
        return await original(self)

    monkeypatch.setattr(MultiPartParser, "parse", counting)
    return calls


# "/skin": served under a proxy's prefix, where uvicorn --root-path puts the prefix in front of every path
@pytest.mark.parametrize("root_path", ["", "/skin"])
def test_a_keyless_upload_is_refused_before_its_body_is_parsed(make_settings, parsed_forms, root_path):
    files = [("files", (f"{i}.jpg", images.jpeg(), "image/jpeg")) for i in range(3)]
    with serving(make_settings(api_key=KEY), root_path=root_path) as running:
        refused = running.client.post(f"{root_path}/predict/batch", files=files)
        assert refused.status_code == 401 and refused.json()["type"].endswith("unauthenticated")
        assert refused.headers["x-request-id"]
        assert parsed_forms == []
        accepted = running.client.post(f"{root_path}/predict", files=upload(images.jpeg()),
                                       headers={"X-API-Key": KEY})
    assert accepted.status_code == 200 and parsed_forms == [1]  # the spy sees a parse when there is one


def test_a_wrong_key_of_another_length_or_charset_is_refused_cleanly(make_settings):
    with serving(make_settings(api_key=KEY)) as running:
        for wrong in (b"x", (KEY + "x").encode(), "ключ".encode()):  # bytes: httpx sends non-ASCII as is
            response = running.client.get("/v1/model", headers={"X-API-Key": wrong})
            assert response.status_code == 401, wrong


def test_without_a_configured_key_nothing_is_gated(served):
    assert served.client.post("/predict", files=upload(images.jpeg())).status_code == 200
