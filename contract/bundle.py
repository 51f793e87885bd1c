"""Reading and writing bundle files: atomic writes, hashes, and a verified load of the contract."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from contract.schema import BundleFiles, ModelContract, ThresholdReport

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class BundleError(RuntimeError):
    """The bundle is missing, torn, or does not match its own contract."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path) in the target's directory, then rename into place.

    A crash leaves either the old file or the new one, never a half-written file; once it returns, the new one
    is on disk (the directory is synced too, so the rename survives a power loss and files written one after
    another, contract.json last, reach the disk in that order).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name ends with the whole target name: some writers (keras.saving) insist on a compound suffix
    # such as .weights.h5.
    handle, tmp_name = tempfile.mkstemp(prefix=".", suffix=f".partial-{path.name}", dir=path.parent)
    os.close(handle)
    tmp_path = Path(tmp_name)
    try:
        write(tmp_path)
        tmp_path.chmod(0o644)  # mkstemp makes 0600; bundles are read by other users (containers)
        with tmp_path.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp_path, path)
        _fsync_directory(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_bytes_atomically(path: Path, data: bytes) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return write_atomically(path, write)


def write_json_atomically(path: Path, payload: object) -> Path:
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(indent=2)
    else:
        text = json.dumps(payload, indent=2, sort_keys=True, default=float)
    return write_bytes_atomically(path, (text + "\n").encode())


def read_contract(bundle_dir: Path) -> ModelContract:
    """Load contract.json and check every file it lists has the recorded sha256."""
    contract = _read_schema(bundle_dir / BundleFiles.CONTRACT, ModelContract)
    verify_files(bundle_dir, contract.files)
    return contract


def verify_files(bundle_dir: Path, files: dict[str, str]) -> None:
    """Every listed file exists and has its recorded sha256."""
    for name, expected in files.items():
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"{path} is listed in {BundleFiles.CONTRACT} but missing")
        if sha256_of(path) != expected:
            raise BundleError(f"{path} does not match the sha256 in {BundleFiles.CONTRACT}")


def read_thresholds(bundle_dir: Path, contract: ModelContract) -> ThresholdReport | None:
    """threshold.json as `contract` (from read_contract, which checked its sha256) lists it; None when the bundle
    has none, and callers fall back to FALLBACK_THRESHOLD. An unlisted threshold.json is stale or foreign: it would
    move the decision unchecked, so the bundle is refused."""
    path = bundle_dir / BundleFiles.THRESHOLD
    if BundleFiles.THRESHOLD in contract.files:
        return _read_schema(path, ThresholdReport)
    if path.exists():
        raise BundleError(f"{path} is not listed in {BundleFiles.CONTRACT}, so its sha256 was never checked")
    return None


def _read_schema(path: Path, schema: type[SchemaT]) -> SchemaT:
    try:
        return schema.model_validate_json(path.read_bytes())
    except FileNotFoundError as error:
        raise BundleError(f"{path} not found") from error
    except ValidationError as error:
        raise BundleError(f"{path} is not a valid {schema.__name__}: {error}") from error
