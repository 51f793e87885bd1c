"""Open a bundle directory: verified contract, thresholds, and the engine that will serve it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from contract.bundle import BundleError, read_contract, read_thresholds
from contract.input_check import FeatureStatistics
from contract.schema import BundleFiles, ModelContract, ThresholdReport
from service.core.config import Settings
from service.inference.engine import Engine
from service.inference.input_check import InputCheck
from service.inference.litert_engine import LiteRTEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedBundle:
    directory: Path
    contract: ModelContract
    thresholds: ThresholdReport | None
    engine: Engine
    input_check: InputCheck


def open_bundle(settings: Settings) -> LoadedBundle:
    """Raise BundleError when the bundle is missing, torn, or has no engine this process can run."""
    directory = settings.model_dir
    contract = read_contract(directory)  # checks every listed file's sha256
    thresholds = read_thresholds(directory, contract)
    _warn_if_thresholds_are_foreign(contract, thresholds)
    engine = _open_engine(directory, contract, settings)
    try:
        input_check = InputCheck(contract.input_check, _feature_statistics(directory, contract))
    except BundleError:
        engine.close()
        raise
    return LoadedBundle(directory, contract, thresholds, engine, input_check)


def _feature_statistics(directory: Path, contract: ModelContract) -> FeatureStatistics:
    if BundleFiles.INPUT_CHECK not in contract.files:
        raise BundleError(f"{BundleFiles.INPUT_CHECK} is not listed in {BundleFiles.CONTRACT}")
    try:
        statistics = FeatureStatistics.load(directory / BundleFiles.INPUT_CHECK)
    except (OSError, ValueError, KeyError) as error:
        raise BundleError(f"{BundleFiles.INPUT_CHECK} cannot be read: {error}") from error
    if statistics.mean.size != contract.output.feature_dim:
        raise BundleError(f"{BundleFiles.INPUT_CHECK} holds {statistics.mean.size} features; the contract says "
                          f"{contract.output.feature_dim}")
    if statistics.directions.shape[0] != contract.input_check.principal_directions:
        raise BundleError(f"{BundleFiles.INPUT_CHECK} keeps {statistics.directions.shape[0]} principal directions; "
                          f"the contract says {contract.input_check.principal_directions}")
    return statistics


def _open_engine(directory: Path, contract: ModelContract, settings: Settings) -> Engine:
    if settings.engine in ("auto", "litert") and _has_verified_litert(directory, contract):
        try:
            return _litert(directory, contract, settings)
        except BundleError:
            if settings.engine == "litert":
                raise
            log.warning("model.tflite disagrees with the contract; falling back to Keras", exc_info=True)
    elif settings.engine == "litert":
        raise BundleError(f"ENGINE=litert but {BundleFiles.CONTRACT} lists no {BundleFiles.LITERT_MODEL}")
    return _keras(directory, contract, settings)


def _has_verified_litert(directory: Path, contract: ModelContract) -> bool:
    # Only a file listed in contract.json had its sha256 checked; an unlisted one may be stale.
    if BundleFiles.LITERT_MODEL in contract.files:
        return True
    if (directory / BundleFiles.LITERT_MODEL).exists():
        log.warning("%s is not listed in %s; ignoring it", BundleFiles.LITERT_MODEL, BundleFiles.CONTRACT)
    return False


def _litert(directory: Path, contract: ModelContract, settings: Settings) -> Engine:
    return LiteRTEngine(
        directory / BundleFiles.LITERT_MODEL,
        contract,
        num_threads=settings.inference_threads,
        pool_size=settings.inference_concurrency,
    )


def _keras(directory: Path, contract: ModelContract, settings: Settings) -> Engine:
    if BundleFiles.KERAS_MODEL not in contract.files:
        raise BundleError(f"{BundleFiles.KERAS_MODEL} is not listed in {BundleFiles.CONTRACT}")
    from service.inference.keras_engine import KerasEngine  # imports TensorFlow, lazily

    return KerasEngine(directory / BundleFiles.KERAS_MODEL, contract, num_threads=settings.inference_threads)


def _warn_if_thresholds_are_foreign(contract: ModelContract, thresholds: ThresholdReport | None) -> None:
    model_sha = contract.files.get(BundleFiles.KERAS_MODEL)
    if thresholds is not None and model_sha is not None and thresholds.model_sha256 != model_sha:
        log.warning("threshold.json was tuned for model %s, not %s", thresholds.model_sha256, model_sha)
