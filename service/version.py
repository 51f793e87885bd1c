"""The service's version, read from the installed package's metadata (pyproject.toml is its one source).

The model's version is a different thing: it comes from the bundle's contract.json.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "skin-cancer-detector"

try:
    SERVICE_VERSION = version(DISTRIBUTION)
except PackageNotFoundError:  # run from a checkout that was never installed
    SERVICE_VERSION = "0+unknown"
