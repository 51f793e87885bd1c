"""One typed Settings object, read from the environment, that refuses to start on bad values."""

from __future__ import annotations

import ipaddress
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contract.preprocessing import DEFAULT_MAX_PIXELS

REPO_ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

# Lists may be given as JSON (`["a", "b"]`) or comma-separated (`a,b`); NoDecode hands us the raw string.
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Service configuration; every field maps to the upper-case environment variable of its name."""

    # protected_namespaces: pydantic reserves "model_" by default, which would flag MODEL_DIR.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, protected_namespaces=("settings_",)
    )

    model_dir: Path = Field(REPO_ROOT / "models", description=(
        'Bundle directory holding `contract.json` and the files it lists (hashes are checked at load). Set it '
        'when the package runs from outside the checkout (the image sets `/app/models`).'))
    engine: Literal["auto", "litert", "keras"] = Field("auto", description=(
        '`auto`: LiteRT when the bundle has `model.tflite`, else Keras; `litert` or `keras` to force one (Keras '
        'needs the `train` extra).'))
    threshold: float | None = Field(None, ge=0.0, le=1.0, description=(
        'Overrides the decision threshold, 0–1.'))

    max_upload_bytes: int = Field(10 * MiB, ge=1024, le=512 * MiB, description=(
        'Largest accepted upload, per file.'))
    max_image_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=64, le=500_000_000, description=(
        'Largest decoded image (width × height) for 8-bit images; transparent images may have a quarter of it and '
        '16/32-bit ones a sixth, whose decoding takes that much more memory per pixel. Guards against '
        'decompression bombs.'))
    max_batch_files: int = Field(16, ge=1, le=256, description=(
        'Most files in one `/predict/batch` call.'))

    url_fetch_timeout_s: float = Field(10.0, gt=0, le=120, description=(
        'Total deadline of one URL download.'))
    url_connect_timeout_s: float = Field(3.0, gt=0, le=60, description=(
        'Connect timeout of one URL download (at most `URL_FETCH_TIMEOUT_S`).'))
    url_max_bytes: int = Field(10 * MiB, ge=1024, le=512 * MiB, description=(
        'Largest image fetched from a URL.'))
    url_max_redirects: int = Field(3, ge=0, le=10, description=(
        'Redirects followed (each hop is checked again).'))
    url_allowed_hosts: CommaList = Field(default_factory=list, description=(
        'Comma-separated host allow-list for URLs; `*.example.org` matches subdomains.'))
    # Tests/dev only: networks exempt from the refusal of non-global addresses. Never set in production.
    url_allowed_private_networks: CommaList = Field(default_factory=list, description=(
        'Networks exempt from the refusal of private/loopback addresses. Tests and development only.'))

    api_key: SecretStr | None = Field(None, min_length=16, description=(
        'When set (16+ printable ASCII characters), model endpoints require it in the `X-API-Key` header.'))
    cors_origins: CommaList = Field(default_factory=list, description=(
        'Comma-separated origins allowed to call the API from a browser (the page at `/` needs none).'))

    inference_threads: int = Field(2, ge=1, le=64, description=(
        'LiteRT threads per inference.'))
    inference_concurrency: int = Field(2, ge=1, le=32, description=(
        'Images decoded at the same time, and model calls at the same time (one LiteRT interpreter each); '
        'single images that wait for the model together share a call.'))
    max_inflight_requests: int = Field(32, ge=1, le=4096, description=(
        'Model requests admitted at once; beyond it a request gets 503 `overloaded` with `Retry-After: 1`.'))
    max_inflight_bytes: int = Field(192 * MiB, ge=1 * MiB, le=64 * 1024 * MiB, description=(
        'Upload bytes the admitted model requests may hold at once (each reserves its declared size; /predict-url'
        ' its URL download limit); beyond it a request gets 503 `overloaded`. Keep it below the container\'s /tmp and'
        ' memory limits.'))
    input_check: Literal["warn", "refuse"] = Field("warn", description=(
        '`warn`: an image unlike the training dermoscopy gets its verdict with an `out_of_distribution` warning; '
        '`refuse`: a 422 `out-of-distribution` problem instead of a verdict.'))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description=(
        '`DEBUG`, `INFO`, `WARNING` or `ERROR`; logs are JSON lines on stdout with the request id.'))

    @field_validator("url_allowed_hosts", "url_allowed_private_networks", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]

    @field_validator("url_allowed_hosts")
    @classmethod
    def _normalise_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not host or "/" in host or ":" in host or " " in host:
                raise ValueError(f"{host!r} is not a bare host name (e.g. images.example.org, *.example.org)")
        return [host.lower().rstrip(".") for host in hosts]

    @field_validator("api_key")
    @classmethod
    def _check_api_key(cls, key: SecretStr | None) -> SecretStr | None:
        # A header carries no surrounding whitespace (HTTP strips it) and no reliable non-ASCII (clients send UTF-8,
        # servers read latin-1): such a key could never be presented intact, so it is refused at startup.
        text = None if key is None else key.get_secret_value()
        if text is not None and not (text.isascii() and text.isprintable() and text == text.strip()):
            raise ValueError("API_KEY must be printable ASCII without leading or trailing whitespace")
        return key

    @field_validator("url_allowed_private_networks")
    @classmethod
    def _check_networks(cls, networks: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(network, strict=True)) for network in networks]

    @field_validator("log_level", "input_check", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @model_validator(mode="after")
    def _connect_within_deadline(self) -> Settings:
        if self.url_connect_timeout_s > self.url_fetch_timeout_s:
            raise ValueError("URL_CONNECT_TIMEOUT_S must not exceed URL_FETCH_TIMEOUT_S")
        return self

    def warn_about_risky_values(self, log: logging.Logger) -> None:
        """Say loudly, once at startup, when a test-only door is open or the limits disagree."""
        if self.url_allowed_private_networks:
            log.warning(
                "URL_ALLOWED_PRIVATE_NETWORKS is set: /predict-url may reach %s (tests and development only)",
                ", ".join(self.url_allowed_private_networks),
            )
        if self.api_key is None:
            log.info("API_KEY is not set: model endpoints are open")
        full_batch = self.max_upload_bytes * self.max_batch_files
        if full_batch > self.max_inflight_bytes:
            log.warning(
                "MAX_INFLIGHT_BYTES (%d) is below one full batch (MAX_UPLOAD_BYTES x MAX_BATCH_FILES = %d): such a "
                "batch is admitted only while no other model request is in progress", self.max_inflight_bytes,
                full_batch,
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
