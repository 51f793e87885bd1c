# syntax=docker/dockerfile:1
# The serving image: the lean LiteRT install (no TensorFlow) and the bundled model.
#
#   docker build -t skin-cancer-detector:3.0.0 .
#   docker run --rm -p 8000:8000 skin-cancer-detector:3.0.0
#
# Another bundle can be mounted over /app/models (read-only), or anywhere with MODEL_DIR pointing at it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: resolve and install the project into a virtual environment ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /src
# Only what the serving install needs; training/ (and TensorFlow with it) stays out of the image.
COPY pyproject.toml README.md ./
COPY contract/ contract/
COPY service/ service/
# The same command as the README's set-up: the base install, no extras.
RUN python -m pip install . \
    && python -m pip uninstall --yes pip setuptools

# ---- runtime: the venv and the bundle, no compilers, no pip cache, not root ----
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="skin-cancer-detector" \
      org.opencontainers.image.description="Dermoscopy lesion classifier with a differential, LayerCAM maps and an input check. Decision support, not a diagnosis." \
      org.opencontainers.image.version="3.0.0" \
      org.opencontainers.image.licenses="Apache-2.0 AND CC-BY-NC-4.0"

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

# One uvicorn worker with INFERENCE_THREADS=2: each worker would load its own copy of the model, and
# LiteRT already spreads one inference over the threads it is given. On a 2-CPU box more workers only
# oversubscribe the cores; scale out with replicas instead (see deploy/).
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODEL_DIR=/app/models \
    INFERENCE_THREADS=2 \
    INFERENCE_CONCURRENCY=2 \
    LOG_LEVEL=INFO

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Owned by root, readable by all: the service user cannot alter its model.
# .dockerignore keeps models/pretrained/ and models/dataset_report/ (training only) out; every file the
# contract lists (plots included) stays in, since the service checks all their hashes at load.
COPY models/ /app/models/

USER 10001:10001
EXPOSE 8000

# Liveness only (the process serves); readiness of the model is /readyz, for orchestrators.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# The service writes its own JSON access log, hence --no-access-log.
CMD ["python", "-m", "uvicorn", "service.main:app", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "1", "--no-access-log", "--timeout-graceful-shutdown", "20"]
