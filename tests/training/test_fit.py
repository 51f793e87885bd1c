"""Phase 2's learning-rate schedules and what a resumed run must share with the run it continues."""

import dataclasses
import itertools
from pathlib import Path

import keras
import pytest

from training.config import TrainConfig
from training.fit import cosine_learning_rate, learning_rate_callback

RECIPE = TrainConfig(data_dir=Path("data"), output_dir=Path("out"))


def test_the_cosine_starts_at_the_initial_rate_halves_midway_and_never_rises():
    rates = [cosine_learning_rate(epoch, 1e-4, 16) for epoch in range(16)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[8] == pytest.approx(0.5e-4)
    assert all(later < earlier for earlier, later in itertools.pairwise(rates))
    assert 0 < rates[-1] < 0.01 * rates[0], "the last epoch still learns, at a small rate"


def test_the_schedule_setting_picks_the_callback():
    cosine = learning_rate_callback(dataclasses.replace(RECIPE, learning_rate_schedule="cosine",
                                                        epochs_finetune=10, learning_rate_finetune=2e-4))
    assert isinstance(cosine, keras.callbacks.LearningRateScheduler)
    assert cosine.schedule(5) == pytest.approx(1e-4)
    plateau = learning_rate_callback(dataclasses.replace(RECIPE, learning_rate_schedule="plateau"))
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau) and plateau.patience == RECIPE.reduce_lr_patience


@pytest.mark.parametrize("schedule, epochs_bind", [("plateau", False), ("cosine", True)])
def test_the_fine_tuning_length_is_bound_on_resume_only_where_it_sets_the_rates(schedule, epochs_bind):
    config = dataclasses.replace(RECIPE, learning_rate_schedule=schedule)
    longer = dataclasses.replace(config, epochs_finetune=config.epochs_finetune + 4)
    assert (config.resume_key() != longer.resume_key()) == epochs_bind
    assert config.resume_key()["learning_rate_schedule"] == schedule
