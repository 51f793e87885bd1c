"""The training recipe's settings in one place: the defaults *are* the recipe of the shipped bundle.

`python -m training train` builds its flags, defaults and help from these fields, and the recipe is saved
into the bundle's contract, so the CLI, the code and the shipped model can never name different defaults.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.schema import SEMANTIC_VERSION

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnetb0")
LEARNING_RATE_SCHEDULES = ("plateau", "cosine")
COLOUR_CONSTANCY = ("none", "shades_of_grey")  # the model's colour correction (training/model/colour_constancy.py)
PLATEAU_FACTOR = 0.3  # the plateau schedule's learning-rate drop
CHANNEL_GAIN = 0.12  # train augmentation's white balance: each of R, G, B scaled by 1 +- this
SENSOR_NOISE = 0.0  # train augmentation's Gaussian noise: the largest standard deviation, in grey levels


def setting(default: object, help: str, *flags: str, parse: Callable[[str], object] | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A recipe field with its CLI help (and optional extra flag spellings) kept beside its default.

    `parse` turns the flag's text into the value and raises ValueError, with the reason, for a value the
    recipe cannot use; `choices` lists the only values allowed. Typed Any, as dataclasses.field is, so that each
    field keeps its annotated type for a type checker (serving's keras fallback imports the recipe's module).
    """
    return field(default=default, metadata={"help": help, "flags": flags, "parse": parse, "choices": choices})


def semantic_version(text: str) -> str:
    """A malformed version is refused when the run is configured, not at export after hours of training."""
    if not re.fullmatch(SEMANTIC_VERSION, text):
        raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 2.1.0)")
    return text


def gain_range(text: str) -> float:
    """A channel gain's half range: at 1 or more, a channel could be scaled to nothing."""
    value = non_negative_number(text)
    if value >= 1:
        raise ValueError(f"{text!r} must be below 1")
    return value


def non_negative_number(text: str) -> float:
    """A finite number >= 0: a negative power would weigh the common diagnoses up, NaN would poison the loss."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} must be a finite number >= 0")
    return value


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path = field(metadata={"help": "HAM10000 folder: the metadata CSV and the images, anywhere below"})
    output_dir: Path = field(metadata={"help": "where the bundle is written"})
    metadata: Path | None = setting(None, "metadata CSV (default: found under --data-dir)")
    checkpoint_dir: Path | None = setting(None, "checkpoint folder (default: <output-dir>.checkpoints)")
    # lite0: a run of the v2.1 recipe (no colour constancy) on efficientnet_lite1 (2026-11-27, 97 min of epochs on
    # 2 cores) reached calibrated validation ROC-AUC 0.897, PR-AUC 0.710 and seven-class balanced accuracy 0.604
    # (lite0: 0.907, 0.725, 0.624), at ~1.3x the model's serving time (LiteRT)
    backbone: str = setting("efficientnet_lite0", "ImageNet backbone", choices=BACKBONES)
    weights: str = setting("imagenet", "backbone weights: imagenet, none, or a .weights.h5 path")
    # 192: a 224 px run of the v2.1 recipe (2026-11-27, 104 min of epochs on 2 cores) reached calibrated validation
    # PR-AUC 0.738 (192 px: 0.725) but ROC-AUC 0.904 (0.907) and seven-class balanced accuracy 0.623 (0.624),
    # within the ~0.02 epoch-to-epoch swing of validation PR-AUC, at ~1.3x the model's serving time (LiteRT)
    image_size: int = setting(192, "square model input side in pixels")
    limit: int | None = setting(None, "train on a stratified subset of about N images (quick runs)")
    seed: int = setting(42, "seed of the shuffling, the augmentation, the initial weights and (unless "
                            "--split-seed) the lesion split")
    # separate so that runs of several seeds can be compared on one validation split: a new --seed alone would
    # also draw new validation (and test) images
    split_seed: int | None = setting(None, "seed of the lesion split and of --limit's subset (default: --seed)")
    batch_size: int = setting(32, "images per training step")
    class_weight_power: float = setting(0.5, "loss weight of each diagnosis: (n / (K * n_class)) ** power; "
                                             "1 balances the diagnoses, 0 leaves them unweighted",
                                        parse=non_negative_number)
    epochs_frozen: int = setting(2, "phase 1 epochs: the head alone, the backbone frozen")
    learning_rate_frozen: float = setting(1e-3, "phase 1 Adam learning rate", "--lr-frozen")
    # 14: 2.1.0's best epoch was the 13th (~4 min an epoch on 2 cores). With the cap at 24 (run of 2026-11-27,
    # stopped after 17 epochs at lr 9e-6) the best was the 16th: validation PR-AUC 0.724 (2.1.0: 0.723) and
    # calibrated validation ROC-AUC 0.896 (2.1.0: 0.907). 2.2.0's best was the 14th, at the cap; a rerun of its
    # recipe with the cap at 20 (2026-12-07) was flat at validation PR-AUC 0.71 from its 10th epoch and stopped by
    # hand after the 15th (lr 2.7e-6, its best: 0.712; 2.2.0: 0.734); calibrated it scored ROC-AUC 0.902, PR-AUC
    # 0.724, balanced accuracy 0.629 (2.2.0: 0.898, 0.733, 0.616): within a rerun's spread, so the cap stays.
    epochs_finetune: int = setting(14, "phase 2 epochs at most (early stopping may end it sooner); under the "
                                       "cosine schedule also the length of its decay")
    learning_rate_finetune: float = setting(1e-4, "phase 2 Adam learning rate", "--lr-finetune")
    unfreeze_layers: int = setting(0, "phase 2: trainable backbone layers from the top, BatchNorm kept frozen; 0 = all")
    # 0.12 and 0: a run with 0.2 and 10 (2026-11-28) moved less under bench.acquisition_shift's shifts but ranked
    # worse on validation (calibrated ROC-AUC 0.887, PR-AUC 0.695, seven-class balanced accuracy 0.557); with
    # colour constancy, --sensor-noise 8 alone (run of 2026-12-07, best validation PR-AUC 0.715 in its 11th epoch)
    # scored, calibrated, ROC-AUC 0.905, PR-AUC 0.724, balanced accuracy 0.613 (2.2.0: 0.898, 0.733, 0.616)
    colour_gain: float = setting(CHANNEL_GAIN, "train augmentation: each of R, G and B scaled by 1 +- this "
                                               "(another dermatoscope's white balance)", parse=gain_range)
    sensor_noise: float = setting(SENSOR_NOISE, "train augmentation: Gaussian noise per image, its standard "
                                                "deviation drawn up to this many grey levels (another camera's "
                                                "sensor); 0 adds none", parse=non_negative_number)
    # shades_of_grey since 2.2.0 (run of 2026-12-06, 60 min of epochs): calibrated validation PR-AUC 0.733, ROC-AUC
    # 0.898, seven-class balanced accuracy 0.616 (2.1: 0.725, 0.907, 0.624; ROC-AUC just below both 2.1 seeds); under
    # bench.acquisition_shift's colour and exposure shifts, on validation, 2 to 7 % of verdicts flip (2.1: 8 to 10 %)
    colour_constancy: str = setting("shades_of_grey", "the model's first layer: none, or shades_of_grey (each "
                                                      "image's illuminant divided out, so another light's colour "
                                                      "or exposure leaves the input unchanged)",
                                    choices=COLOUR_CONSTANCY)
    early_stopping_patience: int = setting(5, "phase 2: epochs without a validation PR-AUC gain before stopping",
                                           "--patience")
    # plateau: a cosine over 16 epochs (otherwise the v2.1 recipe) peaked at validation PR-AUC 0.707 and ROC-AUC 0.892,
    # against 0.723 and 0.905 for the plateau drops (runs of 2026-11-27; the cosine stays for further experiments).
    learning_rate_schedule: str = setting("plateau", f"phase 2 learning rate: plateau (dropped {PLATEAU_FACTOR}x when "
                                                     "validation stops improving) or cosine (decays towards 0 "
                                                     "over the phase 2 epochs, one step per epoch)",
                                          choices=LEARNING_RATE_SCHEDULES)
    reduce_lr_patience: int = setting(2, "phase 2, plateau schedule: epochs without a validation PR-AUC gain "
                                         f"before the learning rate drops {PLATEAU_FACTOR}x")
    calibrate: bool = setting(True, "fit temperature and class-bias scaling on validation (folded into the "
                                    "model's last layer)")
    explanation_layer: str = setting("block5c_add", "backbone layer of the LayerCAM explanation (chosen on "
                                                    "validation with bench/explain.py)")
    skip_missing: bool = setting(False, "train without images the metadata lists but the folder lacks")
    model_version: str = setting("2.2.0", "the bundle's model version (semantic versioning)",
                                 parse=semantic_version)

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_dir or self.output_dir.with_name(self.output_dir.name + ".checkpoints")

    def resume_key(self) -> dict[str, object]:
        """The settings a resumed run must share: those that shape the fitted weights.

        Epoch counts and patience may change on resume; calibration, the version and the paths only
        touch the export, which reruns from the finished checkpoints. Under the cosine schedule the
        fine-tuning length sets every epoch's learning rate, so there it is bound too. Settings added later are
        bound only away from the value earlier runs had (ADDED_LATER), and the split seed only where it differs
        from the seed (implied_split_seed_left_out).
        """
        values = self.recipe()
        free = ["epochs_frozen", "epochs_finetune", "early_stopping_patience", "reduce_lr_patience",
                "calibrate", "model_version", "skip_missing", "explanation_layer"]
        if self.learning_rate_schedule == "cosine":
            free.remove("epochs_finetune")
        for name in free:
            values.pop(name)
        return normalised_resume_key(values)

    @property
    def data_seed(self) -> int:
        """The seed that chooses the images: the split (and --limit's subset)."""
        return self.seed if self.split_seed is None else self.split_seed

    def recipe(self) -> dict[str, object]:
        """The settings that define the model (paths excluded), for the contract and for resume checks."""
        values = dataclasses.asdict(self)
        for path_field in ("data_dir", "output_dir", "metadata", "checkpoint_dir"):
            values.pop(path_field)
        return values


# Settings that shape the weights but were added after runs existed, with the value every earlier run had: at
# that value they are left out of the resume key, so those runs' checkpoints still resume. Historical facts, not
# defaults: never change them, even when a default changes.
ADDED_LATER = {"learning_rate_schedule": "plateau", "colour_gain": 0.12, "sensor_noise": 0.0,
               "colour_constancy": "none"}


def normalised_resume_key(key: dict[str, object]) -> dict[str, object]:
    """A resume key (this run's, or one a checkpoint folder stored) without the settings whose value is
    implied: those added later, at their earlier value, and an implied split seed."""
    explicit = {name: value for name, value in key.items() if name not in ADDED_LATER or value != ADDED_LATER[name]}
    return implied_split_seed_left_out(explicit)


def implied_split_seed_left_out(key: dict[str, object]) -> dict[str, object]:
    """A resume key without its split seed where that seed is implied: unset, or equal to the seed.

    Folders from before the setting existed have no split seed in their recipe.json, and folders written while
    the key always held it have null (or the seed itself) there: all of them drew the split from the seed, and
    compare equal to a run that does. A split seed that differs from the seed stays bound, so resuming an older
    folder with another split is refused here, also where the folder predates its own split.csv.
    """
    if key.get("split_seed") in (None, key.get("seed")):
        return {name: value for name, value in key.items() if name != "split_seed"}
    return key


def cli_fields() -> list[dataclasses.Field]:
    """The fields `train` exposes as flags: all of them."""
    return list(dataclasses.fields(TrainConfig))
