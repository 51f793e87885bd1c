"""The FastAPI inference service for the skin-lesion classifier.

HTTP lives in `api/`, the model runtime in `inference/`, the SSRF-safe URL fetcher in `fetch/`,
configuration and logging in `core/`. Preprocessing is `contract.preprocessing`, shared with training.
"""
