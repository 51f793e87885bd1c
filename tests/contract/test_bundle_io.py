import json

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


def test_missing_contract_and_thresholds(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        read_contract(tmp_path)
    assert read_thresholds(tmp_path) is None
    (tmp_path / BundleFiles.CONTRACT).write_text("{}")
    with pytest.raises(BundleError, match="not a valid ModelContract"):
        read_contract(tmp_path)
