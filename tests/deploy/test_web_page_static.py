"""The web page without a browser: served at /, self-contained, accessible, and in step with the API schema."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.schemas import GradcamResponse, ModelInfo, Problem, Readiness
from service.core.config import Settings
from service.main import create_app

STATIC = Path(__file__).resolve().parents[2] / "service" / "static"
EXTERNAL_URL = re.compile(r"(?:https?:)?//[\w.-]+\.\w+/")


class PageOutline(HTMLParser):
    """The tags and attributes the checks below need."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def page() -> PageOutline:
    outline = PageOutline()
    outline.feed((STATIC / "index.html").read_text())
    return outline


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # No lifespan: the model never loads, which the static routes do not need.
    return TestClient(create_app(Settings(model_dir=tmp_path_factory.mktemp("no-bundle"))))


def test_service_serves_the_page_and_its_assets(client: TestClient, page: PageOutline) -> None:
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "Decision support, not a diagnosis" in index.text
    assets = [attrs["src"] for attrs in page.all("script")] + [
        attrs["href"] for attrs in page.all("link") if attrs.get("rel") == "stylesheet"
    ]
    assert assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_page_loads_nothing_from_elsewhere(page: PageOutline) -> None:
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None and tag != "a":
                assert value.startswith(("/", "#", "data:")), f"<{tag} {name}={value}>: same origin only"
    for asset in ("app.js", "app.css"):
        text = (STATIC / asset).read_text()
        assert not EXTERNAL_URL.search(text), f"{asset} refers to another host"
        assert "@import" not in text and "import(" not in text


def test_page_is_accessible(page: PageOutline) -> None:
    [html] = page.all("html")
    assert html.get("lang")
    labelled = {attrs["for"] for attrs in page.all("label")}
    for attrs in page.all("input"):
        assert attrs.get("id") in labelled, f"input without a label: {attrs}"
    for attrs in page.all("img"):
        decorative = attrs.get("aria-hidden") == "true" and attrs.get("alt") == ""
        assert attrs.get("alt") or decorative, f"image without alt text: {attrs}"
    roles = {attrs.get("role") for _, attrs in page.tags}
    assert {"alert", "status"} <= roles, "errors are announced, status changes are polite"


def test_script_reads_only_fields_the_api_sends() -> None:
    script = (STATIC / "app.js").read_text()
    schemas = {"data": GradcamResponse, "model": ModelInfo, "ready": Readiness, "problem": Problem}
    for variable, schema in schemas.items():
        used = set(re.findall(rf"\b{variable}\.(\w+)", script))
        assert used, f"app.js no longer reads `{variable}`: update this test"
        assert used <= set(schema.model_fields), f"{variable}: {used - set(schema.model_fields)} not in the API"


def test_script_calls_existing_endpoints(client: TestClient) -> None:
    script = (STATIC / "app.js").read_text()
    called = set(re.findall(r"requestJson\(\"(/[\w/-]*)\"", script))
    assert "/gradcam" in called
    assert called <= set(client.app.openapi()["paths"])


def test_static_files_are_packaged(repo_root: Path) -> None:
    package_data = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "static/*" in package_data["service"]
    assert not [path for path in STATIC.rglob("*") if path.is_dir()], "static/* does not include subfolders"
