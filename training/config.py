"""The training recipe's settings in one place; saved into the bundle's contract."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    output_dir: Path
    metadata: Path | None = None
    checkpoint_dir: Path | None = None
    backbone: str = "efficientnetb0"
    weights: str = "imagenet"
    image_size: int = 224
    limit: int | None = None
    seed: int = 42
    batch_size: int = 32
    epochs_frozen: int = 7
    learning_rate_frozen: float = 1e-4
    epochs_finetune: int = 10
    learning_rate_finetune: float = 2e-5
    unfreeze_layers: int = 80
    early_stopping_patience: int = 3
    reduce_lr_patience: int = 1
    calibrate: bool = True
    skip_missing: bool = False
    model_version: str = "1.0.0"
    command: str | None = None  # the command line that started the run, for the model card

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_dir or self.output_dir.with_name(self.output_dir.name + ".checkpoints")

    def resume_key(self) -> dict[str, object]:
        """The settings a resumed run must share; epoch counts and patience may change on resume."""
        values = self.recipe()
        for free in ("epochs_frozen", "epochs_finetune", "early_stopping_patience", "reduce_lr_patience"):
            values.pop(free)
        return values

    def recipe(self) -> dict[str, object]:
        """The settings that define the model (paths excluded), for the contract and for resume checks."""
        values = dataclasses.asdict(self)
        for path_field in ("data_dir", "output_dir", "metadata", "checkpoint_dir", "command"):
            values.pop(path_field)
        return values
