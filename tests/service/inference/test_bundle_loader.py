"""The bundle loader refuses input-check statistics that disagree with the contract, before serving anything."""

from __future__ import annotations

import numpy as np
import pytest

from contract.bundle import BundleError
from contract.input_check import FeatureStatistics
from contract.schema import BundleFiles
from service.inference.bundle_loader import _feature_statistics
from tests.service.fakes import FEATURES, fake_contract


def contract_listing_the_check(**input_check):
    contract = fake_contract(**input_check)
    return contract.model_copy(update={"files": {**contract.files, BundleFiles.INPUT_CHECK: "0" * 64}})


def test_statistics_of_the_contracts_rank_are_loaded(tmp_path):
    FeatureStatistics(np.zeros(FEATURES, np.float32), np.eye(FEATURES, dtype=np.float32),
                      np.ones(FEATURES, np.float32), 1.0).save(tmp_path / BundleFiles.INPUT_CHECK)
    loaded = _feature_statistics(tmp_path, contract_listing_the_check(principal_directions=FEATURES))
    assert loaded.directions.shape == (FEATURES, FEATURES)


def test_statistics_of_another_rank_are_refused(tmp_path):
    FeatureStatistics(np.zeros(FEATURES, np.float32), np.eye(FEATURES, dtype=np.float32)[:2],
                      np.ones(2, np.float32), 1.0).save(tmp_path / BundleFiles.INPUT_CHECK)
    with pytest.raises(BundleError, match="keeps 2 principal directions"):
        _feature_statistics(tmp_path, contract_listing_the_check(principal_directions=FEATURES))


def test_statistics_of_the_older_full_matrix_format_are_refused(tmp_path):
    np.savez(tmp_path / BundleFiles.INPUT_CHECK, mean=np.zeros(FEATURES, np.float32),
             whitening=np.eye(FEATURES, dtype=np.float32))
    with pytest.raises(BundleError, match="cannot be read"):
        _feature_statistics(tmp_path, contract_listing_the_check(principal_directions=FEATURES))
