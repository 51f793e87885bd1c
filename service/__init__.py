"""The FastAPI inference service for the skin-lesion classifier.

HTTP lives in `api/`, the model runtime in `inference/`, the SSRF-safe URL fetcher in `fetch/`,
configuration and logging in `core/`. Preprocessing is `contract.preprocessing`, shared with training.
"""

import os

# One BLAS thread, set before numpy loads: the only BLAS call on the request path (the input check's
# matrix-vector product) is too small to split, and OpenBLAS's idle worker threads spin on the very cores
# LiteRT's threads need. An explicit OPENBLAS_NUM_THREADS in the environment still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
