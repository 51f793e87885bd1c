"""Settings: typed, read from the environment, refusing bad values."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from service.core.config import REPO_ROOT, Settings


def test_defaults_match_the_documented_table():
    settings = Settings()
    assert settings.model_dir == REPO_ROOT / "models"
    assert (REPO_ROOT / "service" / "core" / "config.py").is_file()
    assert settings.engine == "auto"
    assert settings.threshold is None
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    assert settings.max_image_pixels == 40_000_000
    assert settings.url_max_redirects == 3
    assert settings.inference_threads == 2
    assert settings.api_key is None
    assert settings.url_allowed_private_networks == []


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("THRESHOLD", "0.42")
    monkeypatch.setenv("ENGINE", "litert")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("URL_ALLOWED_HOSTS", '["Images.Example.org", "*.cdn.example"]')
    monkeypatch.setenv("API_KEY", "k" * 32)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.model_dir == tmp_path
    assert settings.threshold == 0.42
    assert settings.engine == "litert"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.url_allowed_hosts == ["images.example.org", "*.cdn.example"]
    assert settings.api_key.get_secret_value() == "k" * 32
    assert "k" * 32 not in repr(settings)
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("THRESHOLD", "1.5"),
        ("THRESHOLD", "abc"),
        ("ENGINE", "gpu"),
        ("MAX_UPLOAD_BYTES", "0"),
        ("MAX_IMAGE_PIXELS", "-1"),
        ("MAX_BATCH_FILES", "0"),
        ("URL_FETCH_TIMEOUT_S", "0"),
        ("URL_MAX_REDIRECTS", "-1"),
        ("URL_ALLOWED_PRIVATE_NETWORKS", "not-a-network"),
        ("URL_ALLOWED_PRIVATE_NETWORKS", "10.0.0.1/8"),  # host bits set: probably a typo
        ("URL_ALLOWED_HOSTS", "http://example.org/"),
        ("API_KEY", "short"),
        ("API_KEY", "clé-" * 5),  # a client sends UTF-8, the server reads latin-1: it could never match
        ("API_KEY", "k" * 20 + "\n"),  # a secret file's trailing newline: HTTP strips it from the header
        ("API_KEY", "k" * 10 + "\t" + "k" * 10),
        ("INFERENCE_THREADS", "0"),
        ("LOG_LEVEL", "chatty"),
    ],
)
def test_refuses_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_connect_timeout_must_fit_in_the_deadline():
    with pytest.raises(ValidationError, match="URL_CONNECT_TIMEOUT_S"):
        Settings(url_fetch_timeout_s=1.0, url_connect_timeout_s=2.0)


def test_opening_private_networks_is_announced(caplog: pytest.LogCaptureFixture):
    log = logging.getLogger("test.config")
    with caplog.at_level(logging.WARNING, logger="test.config"):
        Settings(url_allowed_private_networks=["127.0.0.1/32"]).warn_about_risky_values(log)
        Settings().warn_about_risky_values(log)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "127.0.0.1/32" in warnings[0].getMessage()


def test_a_byte_budget_below_one_full_batch_is_announced(caplog: pytest.LogCaptureFixture):
    log = logging.getLogger("test.config")
    with caplog.at_level(logging.WARNING, logger="test.config"):
        Settings(max_batch_files=32).warn_about_risky_values(log)  # 32 x 10 MiB > 192 MiB
        Settings().warn_about_risky_values(log)  # the defaults: 160 MiB of a batch fit
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "below one full batch" in warnings[0]
