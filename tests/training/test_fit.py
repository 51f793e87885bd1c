"""Phase 2's learning-rate schedules and what a resumed run must share with the run it continues."""

import dataclasses
import itertools
import json
from pathlib import Path

import keras
import pandas as pd
import pytest

from training.config import ADDED_LATER, TrainConfig, normalised_resume_key
from training.errors import RecipeMismatch
from training.fit import (
    MONITOR,
    SPLIT_FILE,
    AtomicModelCheckpoint,
    ResumedEarlyStopping,
    bind_split,
    cosine_learning_rate,
    learning_rate_callback,
    prepare_checkpoints,
    replay_plateau,
)

RECIPE = TrainConfig(data_dir=Path("data"), output_dir=Path("out"))
LOG = Path("no-such-run/finetune.csv")


def test_the_cosine_starts_at_the_initial_rate_halves_midway_and_never_rises():
    rates = [cosine_learning_rate(epoch, 1e-4, 16) for epoch in range(16)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[8] == pytest.approx(0.5e-4)
    assert all(later < earlier for earlier, later in itertools.pairwise(rates))
    assert 0 < rates[-1] < 0.01 * rates[0], "the last epoch still learns, at a small rate"


def test_the_schedule_setting_picks_the_callback():
    cosine = learning_rate_callback(dataclasses.replace(RECIPE, learning_rate_schedule="cosine",
                                                        epochs_finetune=10, learning_rate_finetune=2e-4), LOG)
    assert isinstance(cosine, keras.callbacks.LearningRateScheduler)
    assert cosine.schedule(5) == pytest.approx(1e-4)
    plateau = learning_rate_callback(dataclasses.replace(RECIPE, learning_rate_schedule="plateau"), LOG)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau) and plateau.patience == RECIPE.reduce_lr_patience


@pytest.mark.parametrize("schedule, epochs_bind", [("plateau", False), ("cosine", True)])
def test_the_fine_tuning_length_is_bound_on_resume_only_where_it_sets_the_rates(schedule, epochs_bind):
    config = dataclasses.replace(RECIPE, learning_rate_schedule=schedule)
    longer = dataclasses.replace(config, epochs_finetune=config.epochs_finetune + 4)
    assert (config.resume_key() != longer.resume_key()) == epochs_bind


def test_checkpoints_from_before_the_schedule_setting_still_resume_and_a_cosine_run_does_not():
    plateau, cosine = (dataclasses.replace(RECIPE, learning_rate_schedule=name) for name in ("plateau", "cosine"))
    assert "learning_rate_schedule" not in plateau.resume_key(), "older folders' recipe.json lacks the field"
    assert cosine.resume_key()["learning_rate_schedule"] == "cosine"


def test_the_split_seed_is_bound_only_where_it_differs_from_the_seed():
    assert "split_seed" not in RECIPE.resume_key(), "older folders' recipe.json lacks the field"
    assert dataclasses.replace(RECIPE, split_seed=RECIPE.seed).resume_key() == RECIPE.resume_key()
    assert dataclasses.replace(RECIPE, split_seed=7).resume_key()["split_seed"] == 7
    assert dataclasses.replace(RECIPE, seed=7).resume_key() != RECIPE.resume_key(), "the training seed stays bound"


def test_the_augmentation_and_colour_settings_bind_a_resume_only_away_from_what_earlier_runs_used():
    earlier = dataclasses.replace(RECIPE, **ADDED_LATER)
    assert {"colour_gain", "sensor_noise", "colour_constancy"}.isdisjoint(earlier.resume_key()), \
        "older folders' recipe.json lacks them"
    noisy = dataclasses.replace(earlier, sensor_noise=8.0, colour_gain=0.2, colour_constancy="shades_of_grey")
    assert noisy.resume_key()["sensor_noise"] == 8.0 and noisy.resume_key()["colour_gain"] == 0.2
    assert noisy.resume_key()["colour_constancy"] == "shades_of_grey"
    assert normalised_resume_key({**earlier.resume_key(), "sensor_noise": 0.0}) == earlier.resume_key()
    # what every run before these settings used, whatever the defaults become
    assert ADDED_LATER == {"learning_rate_schedule": "plateau", "colour_gain": 0.12, "sensor_noise": 0.0,
                           "colour_constancy": "none"}


@pytest.mark.parametrize(("stored_split_seed", "seed", "split_seed"), [
    ("absent", 42, None),  # a folder from before the setting
    (None, 42, None),  # written while the key always held it
    (42, 42, None),
    (42, 7, 42),  # another training seed on the shipped split
])
def test_folders_that_drew_the_same_split_resume(tmp_path, stored_split_seed, seed, split_seed):
    config = dataclasses.replace(RECIPE, seed=seed, split_seed=split_seed, checkpoint_dir=tmp_path)
    _store_recipe(tmp_path, config, stored_split_seed)
    assert prepare_checkpoints(config) == tmp_path


@pytest.mark.parametrize(("stored_split_seed", "split_seed"), [("absent", 7), (None, 7), (7, None), (7, 8)])
def test_resuming_with_another_split_is_refused_even_without_a_split_file(tmp_path, stored_split_seed, split_seed):
    config = dataclasses.replace(RECIPE, split_seed=split_seed, checkpoint_dir=tmp_path)
    _store_recipe(tmp_path, config, stored_split_seed)
    assert not (tmp_path / SPLIT_FILE).exists(), "only the recipe can tell here"
    with pytest.raises(RecipeMismatch):
        prepare_checkpoints(config)


def _store_recipe(folder: Path, config: TrainConfig, split_seed: object) -> None:
    stored = json.loads(json.dumps(dataclasses.replace(config, split_seed=None).resume_key(), default=str))
    if split_seed != "absent":
        stored["split_seed"] = split_seed
    (folder / "recipe.json").write_text(json.dumps(stored))


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt("the machine went away")


@pytest.mark.slow
def test_after_a_resumed_phase_1_phase_2_still_runs_all_its_epochs_from_the_first(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from training import fit
    from training.data import pipeline
    from training.model.classifier import build_classifier

    config = dataclasses.replace(RECIPE, output_dir=tmp_path / "bundle", weights="none", image_size=32,
                                 batch_size=4, epochs_frozen=2, epochs_finetune=3, learning_rate_schedule="cosine")
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32), np.arange(8) % 7
    data = pipeline.make_dataset(images, labels, config.batch_size, training=False)
    checkpoints, strategy = fit.prepare_checkpoints(config), tf.distribute.get_strategy()
    build = lambda: build_classifier(config.backbone, config.image_size, config.weights)  # noqa: E731

    real_callbacks = fit.phase_callbacks
    monkeypatch.setattr(fit, "phase_callbacks", lambda *args: [*real_callbacks(*args), _CrashAfterFirstEpoch()])
    with pytest.raises(KeyboardInterrupt):
        fit.run_phase(build(), "frozen", config, data, data, checkpoints, strategy)
    monkeypatch.setattr(fit, "phase_callbacks", real_callbacks)

    model = build()  # a new process: phase 1 resumes at its second epoch, then phase 2 runs on the same model
    fit.run_phase(model, "frozen", config, data, data, checkpoints, strategy)
    fit.run_phase(model, "finetune", config, data, data, checkpoints, strategy)
    assert pd.read_csv(checkpoints / "frozen.csv")["epoch"].tolist() == [0, 1]
    finetune = pd.read_csv(checkpoints / "finetune.csv")
    assert finetune["epoch"].tolist() == [0, 1, 2]
    assert finetune["learning_rate"].tolist() == pytest.approx(
        [cosine_learning_rate(epoch, config.learning_rate_finetune, 3) for epoch in range(3)])


@pytest.mark.parametrize("values", [
    [0.5, 0.50005, 0.50008, 0.49, 0.6, 0.6, 0.55, 0.58, 0.58, 0.7, 0.69],  # gains under min_delta, ties, drops
    [0.3] * 7,
    [0.1, 0.2, 0.3, 0.4],
])
def test_the_replay_counts_as_the_real_keras_callbacks_do(values):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    callbacks = ((keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=3), False),
                 (keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, mode="max", patience=2, min_lr=1e-7), True))
    for callback, resets in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {MONITOR: value})
            replayed = replay_plateau(values[: epoch + 1], callback.patience, callback.min_delta,
                                      resets_on_patience=resets)
            assert (callback.best, callback.wait) == replayed, (type(callback).__name__, epoch)


@pytest.mark.parametrize("schedule_callback", [False, True])
def test_a_resumed_phase_starts_its_counters_where_the_log_left_them(tmp_path, schedule_callback):
    log = tmp_path / "finetune.csv"
    log.write_text(f"epoch,{MONITOR}\n0,0.50\n1,0.62\n2,0.61\n")
    if schedule_callback:
        callback = learning_rate_callback(dataclasses.replace(RECIPE, reduce_lr_patience=3), log)
    else:
        callback = ResumedEarlyStopping(log, monitor=MONITOR, mode="max", patience=4)
    callback.on_train_begin()
    assert (callback.best, callback.wait) == (0.62, 1)
    log.unlink()
    callback.on_train_begin()  # a fresh phase: Keras' own starting state
    assert (callback.best, callback.wait) == (None, 0)


def test_checkpoints_refuse_to_resume_on_other_images_or_another_split(tmp_path):
    table = pd.DataFrame({"image_id": ["b", "a", "c"], "split": ["train", "validation", "test"], "dx": ["nv"] * 3})
    bind_split(tmp_path, table)
    bind_split(tmp_path, table.iloc[::-1])  # the same assignment in another order resumes
    for changed in (table.assign(split=["validation", "train", "test"]), table.iloc[:2],
                    table.assign(image_id=["b", "a", "d"])):
        with pytest.raises(RecipeMismatch, match="other images or another split"):
            bind_split(tmp_path, changed)


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy",
                  metrics=[keras.metrics.AUC(curve="PR", name="pr_auc")])
    return model


@pytest.mark.parametrize("killed_in", ["backup", "log"])
def test_a_run_killed_at_an_epoch_end_resumes_with_each_epoch_logged_once(tmp_path, monkeypatch, killed_in):
    import numpy as np

    from training import fit

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    target = keras.callbacks.BackupAndRestore if killed_in == "backup" else keras.callbacks.CSVLogger
    hook = "_save_model" if killed_in == "backup" else "on_epoch_end"
    real, calls = getattr(target, hook), []

    def killed_at_the_third_epoch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("the machine went away")
        return real(self, *args, **kwargs)

    def run() -> None:
        model = _tiny_model()
        fit.trim_log_to_backup(fit.PhaseFiles(tmp_path, "finetune"))
        model.fit(x, y, validation_data=(x, y), epochs=5, verbose=0,
                  callbacks=fit.phase_callbacks("finetune", RECIPE, tmp_path))

    monkeypatch.setattr(target, hook, killed_at_the_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(target, hook, real)
    run()
    assert pd.read_csv(tmp_path / "finetune.csv")["epoch"].tolist() == [0, 1, 2, 3, 4]


def test_the_best_checkpoint_is_replaced_whole_or_not_at_all(tmp_path):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    best = tmp_path / "finetune-best.weights.h5"
    callback = AtomicModelCheckpoint(str(best), monitor=MONITOR, mode="max", save_best_only=True,
                                     save_weights_only=True)
    callback.set_model(model)
    callback.on_epoch_end(0, {MONITOR: 0.5})
    saved = best.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def killed_mid_write(path, overwrite=True):
        Path(path).write_bytes(b"torn")
        raise KeyboardInterrupt

    model.save_weights = killed_mid_write
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end(1, {MONITOR: 0.6})
    assert best.read_bytes() == saved
    callback.on_epoch_end(2, {MONITOR: 0.4})  # not the best: the torn file is cleared, never promoted
    assert best.read_bytes() == saved and [path.name for path in tmp_path.iterdir()] == [best.name]
