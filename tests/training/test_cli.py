"""The CLI reads every default and help text from TrainConfig: the shipped recipe is the default."""

from __future__ import annotations

import dataclasses

import pytest

from training.cli import DEFAULT_EVALUATION_DIR, build_parser, main
from training.config import TrainConfig, cli_fields


def _train_help(capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    return capsys.readouterr().out


def test_every_recipe_field_is_a_flag_with_help_and_its_default(capsys):
    text = " ".join(_train_help(capsys).split())
    for item in cli_fields():
        assert f"--{item.name.replace('_', '-')}" in text, item.name
        assert " ".join(item.metadata["help"].split()) in text, item.name
        if item.default is not dataclasses.MISSING and item.default is not None:
            assert f"(default: {item.default})" in text, item.name


def test_a_help_that_names_its_default_in_words_gets_no_second_default(capsys):
    text = " ".join(_train_help(capsys).split())
    for words in ("(default: --seed)", "(default: <output-dir>.checkpoints)"):
        assert words in text
        assert f"{words} (default: None)" not in text


def test_parsed_defaults_build_the_config_defaults():
    args = build_parser().parse_args(["train", "--data-dir", "d", "--output-dir", "o"])
    parsed = TrainConfig(**{item.name: getattr(args, item.name) for item in cli_fields()})
    for item in cli_fields():
        if item.default is not dataclasses.MISSING:
            assert getattr(parsed, item.name) == item.default, item.name


def test_old_flag_spellings_still_work():
    args = build_parser().parse_args(["train", "--data-dir", "d", "--output-dir", "o", "--lr-frozen", "0.5",
                                      "--patience", "9", "--no-calibrate"])
    assert (args.learning_rate_frozen, args.early_stopping_patience, args.calibrate) == (0.5, 9, False)


def test_evaluate_writes_under_the_ignored_runs_folder_by_default():
    args = build_parser().parse_args(["evaluate", "--model-dir", "m", "--data-dir", "d"])
    assert args.output_dir == DEFAULT_EVALUATION_DIR and DEFAULT_EVALUATION_DIR.parts[0] == "runs"


def test_evaluate_passes_skip_missing_and_flips_through(monkeypatch):
    import training.evaluation.report as report

    seen = []
    monkeypatch.setattr(report, "evaluate_bundle", lambda *args: seen.append(args) or {})
    for flags, skip_missing, flips in (([], False, "none"), (["--skip-missing", "--flips", "horizontal"], True,
                                                               "horizontal")):
        main(["evaluate", "--model-dir", "m", "--data-dir", "d", *flags])
        assert seen[-1][-2:] == (skip_missing, flips)


def test_evaluate_refuses_a_flip_it_does_not_know(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--model-dir", "m", "--data-dir", "d", "--flips", "diagonal"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("refresh", ["refit-input-check", "reconvert-litert", "reevaluate"])
def test_a_refresh_needs_a_model_version(capsys, refresh):
    with pytest.raises(SystemExit) as exit_info:
        main([refresh, "--model-dir", "models", "--data-dir", "data"])
    assert exit_info.value.code == 2 and "--model-version" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train", "--data-dir", "d", "--output-dir", "o"],
                                     ["refit-input-check", "--model-dir", "m", "--data-dir", "d"]])
@pytest.mark.parametrize("version", ["2.1", "v2.1.0", "2.1.0.1", "latest", "01.2.3", "1.2.3-01", "1.2.3-a..b",
                                     "1.2.3-", "\uff11.2.3"])
def test_a_version_that_is_not_semantic_is_refused_before_any_work(capsys, command, version):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--model-version", version])
    assert exit_info.value.code == 2 and "not a semantic version" in capsys.readouterr().err


@pytest.mark.parametrize("power", ["-1", "nan", "inf", "half"])
def test_a_class_weight_power_that_is_not_a_finite_non_negative_number_is_refused(capsys, power):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data-dir", "d", "--output-dir", "o", "--class-weight-power", power])
    assert exit_info.value.code == 2 and "--class-weight-power" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value", "reason"), [("--colour-gain", "1", "below 1"),
                                                      ("--colour-gain", "-0.1", ">= 0"),
                                                      ("--sensor-noise", "nan", ">= 0")])
def test_augmentation_settings_out_of_range_are_refused(capsys, flag, value, reason):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data-dir", "d", "--output-dir", "o", flag, value])
    assert exit_info.value.code == 2 and flag in (error := capsys.readouterr().err) and reason in error


@pytest.mark.parametrize("version", ["2.1.0", "0.0.1-test", "1.0.0-rc.1+build.5"])
def test_semantic_versions_with_pre_release_and_build_are_accepted(version):
    args = build_parser().parse_args(["train", "--data-dir", "d", "--output-dir", "o", "--model-version", version])
    assert args.model_version == version


@pytest.mark.parametrize("refresh", ["reconvert-litert", "reevaluate"])
@pytest.mark.parametrize("contract", [None, "{not json", '{"files": {}}'])
def test_a_refresh_of_an_unreadable_bundle_exits_2_with_a_message(tmp_path, capsys, contract, refresh):
    if contract is not None:
        (tmp_path / "contract.json").write_text(contract)
    code = main([refresh, "--model-dir", str(tmp_path), "--data-dir", str(tmp_path),
                 "--model-version", "9.9.9"])
    assert code == 2 and "contract.json" in capsys.readouterr().err
