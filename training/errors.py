"""Domain errors of the training package: each says what is wrong and what to do; the CLI prints them."""

from __future__ import annotations


class TrainingError(Exception):
    """Base of the errors training raises on purpose (the CLI exits 2 with the message)."""


class IngestError(TrainingError, ValueError):
    """The metadata or image folder cannot make a usable dataset; the message says why."""


class WeightsUnavailable(TrainingError):
    """The requested backbone weights cannot be loaded here."""


class RecipeMismatch(TrainingError):
    """The checkpoint folder holds a run of a different recipe, so it cannot be resumed."""


class ExportMismatch(TrainingError):
    """The exported LiteRT model disagrees with the Keras model beyond the tolerance."""
