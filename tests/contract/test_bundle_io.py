import json
import os
import stat

import pytest

from contract.bundle import BundleError, read_contract, read_thresholds, write_atomically, write_json_atomically
from contract.schema import BundleFiles


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "threshold.json"
    write_json_atomically(target, {"threshold": 0.4})

    def crash(tmp):
        tmp.write_text('{"thresh')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, crash)
    assert json.loads(target.read_text()) == {"threshold": 0.4}
    assert [p.name for p in tmp_path.iterdir()] == ["threshold.json"]


def test_the_file_then_its_rename_are_synced_to_disk(tmp_path, monkeypatch):
    synced = []
    fsync = os.fsync

    def spy(descriptor):
        synced.append("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    write_json_atomically(tmp_path / "a.json", {})
    assert synced == ["file", "directory"]


def test_the_temp_file_ends_with_the_whole_target_name(tmp_path):
    # Keras refuses to save weights to a name that does not end in .weights.h5: a temp name that kept only the
    # last suffix (.h5) broke the backbone conversion
    seen = []
    write_atomically(tmp_path / "backbone.weights.h5", lambda temp: seen.append(temp.name) or temp.write_bytes(b""))
    assert seen[0].endswith("backbone.weights.h5") and seen[0].startswith(".") and seen[0] != "backbone.weights.h5"
    assert [p.name for p in tmp_path.iterdir()] == ["backbone.weights.h5"]


def test_written_files_are_world_readable(tmp_path):
    path = write_json_atomically(tmp_path / "a.json", {})
    assert path.stat().st_mode & 0o777 == 0o644


def test_contract_detects_a_tampered_file(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    copy.mkdir()
    for path in tiny_bundle.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert read_contract(copy).files.keys() >= {BundleFiles.KERAS_MODEL, BundleFiles.LITERT_MODEL}
    original = (copy / BundleFiles.THRESHOLD).read_bytes()
    (copy / BundleFiles.THRESHOLD).write_text(json.dumps({"threshold": 0.01}))
    with pytest.raises(BundleError, match="does not match the sha256"):
        read_contract(copy)
    (copy / BundleFiles.THRESHOLD).write_bytes(original)
    (copy / BundleFiles.LITERT_MODEL).unlink()
    with pytest.raises(BundleError, match="missing"):
        read_contract(copy)


def test_missing_or_invalid_contract(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        read_contract(tmp_path)
    (tmp_path / BundleFiles.CONTRACT).write_text("{}")
    with pytest.raises(BundleError, match="not a valid ModelContract"):
        read_contract(tmp_path)


def test_thresholds_are_read_only_as_the_contract_lists_them(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    copy.mkdir()
    for path in tiny_bundle.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    contract = read_contract(copy)
    assert read_thresholds(copy, contract).model_sha256 == contract.files[BundleFiles.KERAS_MODEL]
    unlisted = contract.model_copy(update={"files": {name: sha for name, sha in contract.files.items()
                                                     if name != BundleFiles.THRESHOLD}})
    with pytest.raises(BundleError, match="not listed"):  # present but never hash-checked: stale or foreign
        read_thresholds(copy, unlisted)
    (copy / BundleFiles.THRESHOLD).unlink()
    assert read_thresholds(copy, unlisted) is None  # a bundle without thresholds: callers use the fallback
