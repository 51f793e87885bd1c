"""The Postman collection: a valid v2.1 collection of every endpoint, as generated, and every request works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from postman.generate import COLLECTION, SCHEMA, render
from service.core.config import Settings
from service.main import create_app
from tests.conftest import REPO_ROOT
from tests.deploy.live_server import LiveServer, host_directory

VARIABLE = re.compile(r"\{\{(\w+)\}\}")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _requests(node: dict) -> list[dict]:
    if "request" in node:
        return [node]
    return [found for child in node.get("item", []) for found in _requests(child)]


@pytest.fixture(scope="module")
def collection() -> dict:
    return json.loads(COLLECTION.read_text())


def test_the_committed_collection_is_what_the_generator_writes() -> None:
    assert COLLECTION.read_text() == render(), "run `python -m postman.generate` and commit the result"


def test_it_is_a_v2_1_collection_with_variables_and_examples(collection) -> None:
    assert collection["info"]["schema"] == SCHEMA and collection["info"]["name"]
    assert {"baseUrl", "apiKey"} <= {variable["key"] for variable in collection["variable"]}
    for item in _requests(collection):
        request = item["request"]
        assert request["method"] in METHODS and request["url"]["raw"].startswith("{{baseUrl}}/"), item["name"]
        assert request["url"]["host"] == ["{{baseUrl}}"]
        for example in item["response"]:
            assert example["code"] and example["body"], item["name"]
    with_examples = [item for item in _requests(collection) if item["response"]]
    assert len(with_examples) >= len(_requests(collection)) - 3, "examples for the endpoints that answer JSON"


def test_every_endpoint_has_a_request(collection, tmp_path: Path) -> None:
    paths = set(create_app(Settings(model_dir=tmp_path)).openapi()["paths"]) | {"/docs", "/openapi.json"}
    covered = {"/" + "/".join(item["request"]["url"]["path"]).replace("{{modelName}}", "{name}")
               for item in _requests(collection)}
    assert paths <= covered, f"not in the collection: {paths - covered}"


def _resolve(text: str, variables: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: variables[match.group(1)], text)


def _send(client: httpx.Client, item: dict, variables: dict[str, str]) -> httpx.Response:
    request = item["request"]
    headers = {h["key"]: _resolve(h["value"], variables) for h in request["header"] if h["value"] != "{{apiKey}}"
               or variables["apiKey"]}
    body = request.get("body", {})
    files, content = None, None
    if body.get("mode") == "formdata":
        files = [(field["key"], (Path(field["src"]).name, (REPO_ROOT / field["src"]).read_bytes()))
                 for field in body["formdata"]]
    elif body.get("mode") == "raw":
        content = _resolve(body["raw"], variables).encode()
    return client.request(request["method"], _resolve(request["url"]["raw"], variables), headers=headers,
                          files=files, content=content)


@pytest.mark.slow
def test_every_request_succeeds_against_a_live_server(collection, live_server: LiveServer) -> None:
    with host_directory(REPO_ROOT / "samples") as samples_url:
        variables = {"baseUrl": live_server.base_url, "apiKey": "", "modelName": "skin-cancer-detector",
                     "imageUrl": f"{samples_url}/mel_ISIC_0024310.jpg"}
        with httpx.Client(timeout=60) as client:
            failures = {}
            for item in _requests(collection):
                response = _send(client, item, variables)
                if response.status_code != 200:
                    failures[item["name"]] = (response.status_code, response.text[:300])
    assert not failures, f"{failures}\n{live_server.log_tail()}"
