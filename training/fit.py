"""Fitting: the two-phase recipe (frozen backbone, then the backbone fine-tuned), checkpointed and resumable.

`fit` returns the trained model and its history; it writes only its own checkpoints, never the bundle.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from contract.bundle import write_atomically, write_bytes_atomically, write_json_atomically
from contract.diagnoses import cancerous_mask
from training.config import PLATEAU_FACTOR, TrainConfig, normalised_resume_key
from training.data import pipeline
from training.data.augment import build_augmenter
from training.errors import RecipeMismatch
from training.model.classifier import build_classifier, freeze_backbone, unfreeze_top_of_backbone
from training.model.explainer import check_explainable

MONITOR = "val_pr_auc"
SPLIT_FILE = "split.csv"  # in the checkpoint folder: the images and splits its weights saw
BACKUP_METADATA = "training_metadata.json"  # keras.callbacks.BackupAndRestore's record of the epochs it holds


def fit(config: TrainConfig, table: pd.DataFrame, images: np.ndarray) -> tuple[keras.Model, dict[str, object]]:
    """Phase 1 then phase 2 on the train split, early stopping on validation; restores finished phases."""
    strategy = configure_devices()
    train_x, train_y = pipeline.split_arrays(table, images, "train")
    val_x, val_y = pipeline.split_arrays(table, images, "validation")
    weights = pipeline.class_weights(train_y, config.class_weight_power)
    augmenter = build_augmenter(config.seed, config.colour_gain, config.sensor_noise)
    train_data = pipeline.make_dataset(train_x, train_y, config.batch_size, training=True, seed=config.seed,
                                       weights=weights, augmenter=augmenter)
    val_data = pipeline.make_dataset(val_x, val_y, config.batch_size, training=False)
    checkpoints = prepare_checkpoints(config)
    bind_split(checkpoints, table)
    with strategy.scope():
        model = build_classifier(config.backbone, config.image_size, config.weights, config.colour_constancy)
    check_explainable(model, config.explanation_layer)  # seconds now, rather than a failed export after hours
    run_phase(model, "frozen", config, train_data, val_data, checkpoints, strategy)
    run_phase(model, "finetune", config, train_data, val_data, checkpoints, strategy)
    history = read_history(checkpoints)
    history["train_seconds"] = training_seconds(history)
    return model, history


def configure_devices() -> tf.distribute.Strategy:
    """Mixed precision and mirrored replicas only where GPUs exist; the default strategy on CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def prepare_checkpoints(config: TrainConfig) -> Path:
    """A checkpoint folder bound to one recipe: resuming with different settings is refused."""
    folder = config.checkpoints
    folder.mkdir(parents=True, exist_ok=True)
    recipe_file = folder / "recipe.json"
    recipe = json.loads(json.dumps(config.resume_key(), default=str))
    if recipe_file.exists() and normalised_resume_key(json.loads(recipe_file.read_text())) != recipe:
        raise RecipeMismatch(f"{folder} holds checkpoints of a different recipe; delete it or pass "
                             "--checkpoint-dir to start a new run")
    write_json_atomically(recipe_file, recipe)
    print(f"checkpoints in {folder} (rerun the same command to resume)")
    return folder


def bind_split(checkpoints: Path, table: pd.DataFrame) -> None:
    """Bind the checkpoints to the images and their splits: resuming on other data is refused.

    The recipe does not name the data, and a changed image set (another folder, --skip-missing, a new --limit
    sample) reshuffles the lesion-grouped split: restored weights would then have seen today's validation and
    test images, and every number fitted or reported there would be flattered without a word.
    """
    path = checkpoints / SPLIT_FILE
    assignment = table[["image_id", "split"]].astype(str).sort_values("image_id").reset_index(drop=True)
    if path.exists():
        bound = pd.read_csv(path, dtype=str).sort_values("image_id").reset_index(drop=True)
        if not bound.equals(assignment):
            raise RecipeMismatch(f"{checkpoints} was trained on other images or another split ({SPLIT_FILE}); "
                                 "delete it or pass --checkpoint-dir to start a new run")
        return
    write_bytes_atomically(path, assignment.to_csv(index=False).encode())


@dataclass(frozen=True)
class PhaseFiles:
    """Where one phase keeps its state in the checkpoint folder."""

    checkpoints: Path
    phase: str

    @property
    def finished(self) -> Path:  # the phase's final weights: it is done
        return self.checkpoints / f"{self.phase}.weights.h5"

    @property
    def best(self) -> Path:  # phase 2's best epoch so far
        return self.checkpoints / f"{self.phase}-best.weights.h5"

    @property
    def log(self) -> Path:  # one CSV row per epoch, across resumes
        return self.checkpoints / f"{self.phase}.csv"

    @property
    def backup(self) -> Path:  # keras.callbacks.BackupAndRestore's folder
        return self.checkpoints / f"{self.phase}-backup"


def run_phase(model: keras.Model, phase: str, config: TrainConfig, train_data: tf.data.Dataset,
              val_data: tf.data.Dataset, checkpoints: Path, strategy: tf.distribute.Strategy) -> None:
    """Train one phase, or restore it if an earlier run finished it."""
    files = PhaseFiles(checkpoints, phase)
    epochs = config.epochs_frozen if phase == "frozen" else config.epochs_finetune
    if phase == "frozen":
        freeze_backbone(model)
    else:
        print(f"phase 2: {unfreeze_top_of_backbone(model, config.unfreeze_layers)} layers unfrozen")
    if files.finished.exists():
        print(f"phase {phase!r} already finished: restoring {files.finished}")
        model.load_weights(files.finished)
        return
    if epochs <= 0:
        return
    learning_rate = config.learning_rate_frozen if phase == "frozen" else config.learning_rate_finetune
    with strategy.scope():
        compile_model(model, learning_rate)
    # BackupAndRestore tells fit where a resumed phase continues through this private attribute, and nothing
    # clears it: after a resumed phase 1, phase 2 would start at phase 1's epoch (fewer epochs, a cosine begun
    # part-way). Each phase starts from its own backup or from epoch 0.
    model._initial_epoch = None
    trim_log_to_backup(files)  # before the replays read the log
    model.fit(train_data, validation_data=val_data, epochs=epochs, verbose=1, shuffle=False,  # tf.data shuffles
              callbacks=phase_callbacks(phase, config, checkpoints))
    if phase == "finetune" and files.best.exists():
        model.load_weights(files.best)  # early stopping's best epoch, also across a resume
    write_atomically(files.finished, lambda temp: model.save_weights(str(temp)))


def compile_model(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[CancerAUC(curve="PR", name="pr_auc"), CancerAUC(name="roc_auc"),
                 keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


class CancerAUC(keras.metrics.AUC):
    """AUC of the cancer probability (the sum of the cancerous classes' softmax) against the binary label.

    Early stopping watches the number the product decides on, not the seven-class loss.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cancerous = tf.constant(cancerous_mask(), dtype=tf.float32)  # (K,)

    def update_state(self, y_true, y_pred, sample_weight=None):
        is_cancer = tf.gather(self._cancerous, tf.reshape(tf.cast(y_true, tf.int32), [-1]))  # (B,)
        cancer_probability = tf.reduce_sum(tf.cast(y_pred, tf.float32) * self._cancerous, axis=-1)  # (B,)
        return super().update_state(is_cancer, cancer_probability, sample_weight)


def phase_callbacks(phase: str, config: TrainConfig, checkpoints: Path) -> list[keras.callbacks.Callback]:
    files = PhaseFiles(checkpoints, phase)
    log = files.log
    callbacks: list[keras.callbacks.Callback] = [EpochTimer()]
    if phase == "finetune":
        callbacks += [
            AtomicModelCheckpoint(
                str(files.best), monitor=MONITOR, mode="max",
                save_best_only=True, save_weights_only=True, initial_value_threshold=best_so_far(log)),
            ResumedEarlyStopping(log, monitor=MONITOR, mode="max", patience=config.early_stopping_patience,
                                 restore_best_weights=True),
            learning_rate_callback(config, log),
        ]
    # The CSV row after the callbacks above, so it records what they add (epoch_seconds, learning_rate); the
    # backup last, so an epoch a resume skips is always in the log that the resumed counters are replayed from
    # (and a row logged for an epoch whose backup was cut short is trimmed on resume: trim_log_to_backup).
    return [*callbacks, keras.callbacks.CSVLogger(str(log), append=True),
            keras.callbacks.BackupAndRestore(str(files.backup))]


def trim_log_to_backup(files: PhaseFiles) -> None:
    """Keep only the log rows of the epochs the backup holds, the epochs a resumed fit will not run again.

    The row of an epoch is written before its backup: a run killed in between logged an epoch that the resume
    runs again, and its row would be counted twice by the replayed counters and the history.
    """
    if not files.log.exists():
        return
    metadata = files.backup / BACKUP_METADATA  # where BackupAndRestore records how many epochs it holds
    resumes_at = json.loads(metadata.read_text())["epoch"] if metadata.exists() else 0
    rows = pd.read_csv(files.log)
    if (rows["epoch"] >= resumes_at).any():
        kept = rows[rows["epoch"] < resumes_at].to_csv(index=False).encode()
        write_bytes_atomically(files.log, kept)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes beside its file and renames it into place: a run killed mid-write keeps the
    previous best epoch's weights, never a torn file that the resumed run would load as its best."""

    def _save_model(self, epoch, batch, logs):
        target = Path(self.filepath)
        partial = target.with_name(f".partial-{target.name}")  # Keras insists on the .weights.h5 ending
        partial.unlink(missing_ok=True)  # one torn by a killed run must never be promoted below
        self.filepath = str(partial)
        try:
            super()._save_model(epoch, batch, logs)
        finally:
            self.filepath = str(target)
        if partial.exists():  # saved: this epoch is the best so far
            partial.replace(target)


def learning_rate_callback(config: TrainConfig, log: Path) -> keras.callbacks.Callback:
    """Phase 2's learning rate: dropped on a validation plateau, or on a cosine fixed by the epoch count."""
    if config.learning_rate_schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(
            lambda epoch, _current=None: cosine_learning_rate(epoch, config.learning_rate_finetune,
                                                              config.epochs_finetune))
    return ResumedReduceLROnPlateau(log, monitor=MONITOR, mode="max", factor=PLATEAU_FACTOR,
                                    patience=config.reduce_lr_patience, min_lr=1e-7)


# A resumed phase restores the weights, the optimizer (its learning rate too) and the epoch, but Keras starts
# these two callbacks' counters afresh: without the replay an interrupted run would wait `patience` more epochs
# before stopping or dropping the rate than the same run uninterrupted.

class _ReplaysItsLog:
    """Starts a plateau callback from the best value and the wait that an earlier run of this phase logged."""

    resets_on_patience: bool  # True for the rate drop, which waits afresh after each drop

    def __init__(self, log: Path, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        logged = logged_monitor(self.log)
        if logged:  # a fresh phase keeps Keras' own starting state
            self.best, self.wait = replay_plateau(logged, self.patience, self.min_delta,
                                                  resets_on_patience=self.resets_on_patience)


class ResumedEarlyStopping(_ReplaysItsLog, keras.callbacks.EarlyStopping):
    resets_on_patience = False


class ResumedReduceLROnPlateau(_ReplaysItsLog, keras.callbacks.ReduceLROnPlateau):
    resets_on_patience = True


def replay_plateau(values: list[float], patience: int, min_delta: float = 0.0, *,
                   resets_on_patience: bool) -> tuple[float | None, int]:
    """(best, wait) of a maximising plateau callback after `values`, as Keras counts them: an improvement beats the
    best by more than `min_delta`; the wait is the epochs since the last one, and for the rate-dropping callback
    also since its last drop (taken as made: below its floor of 1e-7 it would not be)."""
    best, wait = None, 0
    for value in values:
        if best is None or value - min_delta > best:
            best, wait = value, 0
            continue
        wait += 1
        if resets_on_patience and wait >= patience:
            wait = 0
    return best, wait


def logged_monitor(log: Path) -> list[float]:
    """The monitored value of every epoch an earlier run of this phase logged (none for a fresh phase)."""
    if not log.exists() or log.stat().st_size == 0:
        return []
    values = pd.read_csv(log).get(MONITOR)
    return [] if values is None else [float(value) for value in values]


def cosine_learning_rate(epoch: int, initial: float, epochs: int) -> float:
    """Half a cosine from `initial` at epoch 0 towards 0, stepped per epoch so a resumed run continues it.

    The last epoch still learns (its rate is above 0), and the rate never rises within the phase.
    """
    return initial * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / max(epochs, 1)))


def best_so_far(log: Path) -> float | None:
    """The best monitored value logged by an interrupted earlier run of this phase."""
    values = logged_monitor(log)
    return max(values) if values else None


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs (and so to the CSV history)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = round(time.perf_counter() - self.started, 1)


def training_seconds(history: dict[str, object]) -> float:
    """Time spent in epochs, summed over both phases and over every resumed run (from the CSV logs)."""
    epochs = [epoch for phase in ("frozen", "finetune") for epoch in history.get(phase, [])]
    return round(sum(epoch.get("epoch_seconds") or 0.0 for epoch in epochs), 1)


def read_history(checkpoints: Path) -> dict[str, object]:
    history: dict[str, object] = {}
    for phase in ("frozen", "finetune"):
        log = PhaseFiles(checkpoints, phase).log
        if log.exists() and log.stat().st_size:
            history[phase] = pd.read_csv(log).replace({np.nan: None}).to_dict(orient="records")
    return history
