"""Benchmarks and load/soak/fuzz tools; run them as modules from the repository root (`python -m bench.<name>`)."""

import service  # noqa: F401 - first, so numpy loads with the service's BLAS setting (service/__init__.py)
