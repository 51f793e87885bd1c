"""`python -m training <command>`: train, evaluate, describe, model-card, and the refreshes refit-input-check,
reconvert-litert and reevaluate."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from contract.bundle import BundleError
from contract.schema import BundleFiles
from training.config import TrainConfig, cli_fields, semantic_version
from training.errors import TrainingError
from training.evaluation.flips import FLIP_VIEWS

DEFAULT_EVALUATION_DIR = Path("runs") / "evaluation"
_TYPES = {"Path": Path, "int": int, "float": float, "str": str}


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, and keeps the description's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # a help that names its default in words ("default: --seed") would otherwise also get "(default: None)"
        if action.help and "(default:" in action.help:
            return action.help
        return super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__, formatter_class=_Help)
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_flags(commands.add_parser(
        "train", help="run the whole recipe and write a model bundle", formatter_class=_Help,
        description="Fit, calibrate, tune thresholds, evaluate and export a bundle. The defaults are the "
                    "recipe of the shipped bundle.\nRerun the same command to resume from its checkpoints."))

    evaluate = commands.add_parser("evaluate", help="score a bundle on a labelled image set", formatter_class=_Help)
    evaluate.add_argument("--model-dir", type=Path, required=True, help="the bundle to score")
    evaluate.add_argument("--data-dir", type=Path, required=True, help="folder with the images (any depth)")
    evaluate.add_argument("--metadata", type=Path, help="CSV with image_id and dx (default: found under --data-dir)")
    evaluate.add_argument("--output-dir", type=Path, default=DEFAULT_EVALUATION_DIR,
                          help="where metrics.json and the plots are written (runs/ is git-ignored)")
    evaluate.add_argument("--skip-missing", action="store_true",
                          help="score without images the metadata lists but the folder lacks")
    evaluate.add_argument("--split", choices=("test", "validation"), default="test",
                          help="on the bundle's own data: its test split (reported), or its validation split "
                               "(what candidate bundles are compared on before shipping)")
    evaluate.add_argument("--flips", choices=tuple(FLIP_VIEWS), default="none",
                          help="average each image's probabilities with its mirror images' (test-time flips, which "
                               "the service does not run): to measure what they would bring")

    describe = commands.add_parser("describe", help="write a dataset report (counts, demographics, samples)",
                                   formatter_class=_Help)
    describe.add_argument("--data-dir", type=Path, required=True, help="HAM10000 folder")
    describe.add_argument("--metadata", type=Path, help="metadata CSV (default: found under --data-dir)")
    describe.add_argument("--output-dir", type=Path, default=Path("runs") / "dataset_report",
                          help="where the report and its plots are written")

    card = commands.add_parser("model-card", help="re-render MODEL_CARD.md from a bundle's own files",
                               formatter_class=_Help)
    card.add_argument("--model-dir", type=Path, required=True, help="the bundle (its contract is re-hashed)")

    for name, (summary, description) in REFRESHES.items():
        add_refresh_flags(commands.add_parser(name, help=summary, description=description, formatter_class=_Help))
    return parser


# The refreshes: each redoes one export step of a bundle from its own model and split (MAINTAINING.md).
REFRESHES = {
    "refit-input-check": (
        "fit a bundle's input check again from its own model and split (no retraining)",
        "Recompute input_check.npz and the input-check limits of a bundle with the current fitting code, from the "
        "bundle's Keras model and split manifest, as train does at export; the model card and the contract are "
        "updated."),
    "reconvert-litert": (
        "convert a bundle's Keras model to model.tflite again (no retraining)",
        "Convert the bundle's Keras model to LiteRT with the current export code (both signatures), verify it "
        "against the Keras model on validation images as train does, and update model.tflite, history.json's "
        "gaps, the model card and the contract."),
    "reevaluate": (
        "score a bundle's test split again with the current evaluation code (no retraining)",
        "Score the bundle's own test split with its Keras model and the current evaluation code, as train does "
        "at export, and update metrics.json, the plots, the model card and the contract."),
}


def add_refresh_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", type=Path, required=True, help="the bundle, updated in place")
    parser.add_argument("--data-dir", type=Path, required=True, help="HAM10000 folder (the bundle's training data)")
    parser.add_argument("--model-version", required=True, type=argument_type(semantic_version),
                        help="the refreshed bundle's model version: a patch bump for the same weights "
                             "(MAINTAINING.md), since what the service answers may change")
    parser.add_argument("--metadata", type=Path, help="metadata CSV (default: found under --data-dir)")


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's default and help: the config is the one source."""
    for item in cli_fields():
        flags = [f"--{item.name.replace('_', '-')}", *item.metadata.get("flags", ())]
        options: dict[str, object] = {"dest": item.name, "help": item.metadata["help"]}
        if item.default is dataclasses.MISSING:
            options["required"] = True
        else:
            options["default"] = item.default
        kind = str(item.type).replace(" | None", "")
        parse, choices = item.metadata.get("parse"), item.metadata.get("choices")
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = argument_type(parse) if parse else _TYPES[kind]
        if choices:
            options["choices"] = choices
        parser.add_argument(*flags, **options)


def argument_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """A field's parser as an argparse type: its ValueError's reason becomes the usage error."""
    def parsed(text: str) -> object:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parsed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"train": command_train, "evaluate": command_evaluate, "describe": command_describe,
                "model-card": command_model_card, "refit-input-check": command_refit_input_check,
                "reconvert-litert": command_reconvert_litert, "reevaluate": command_reevaluate}
    try:
        return handlers[args.command](args)
    except (TrainingError, BundleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def command_train(args: argparse.Namespace) -> int:
    from training.train import run_training

    values = {item.name: getattr(args, item.name) for item in cli_fields()}
    run_training(TrainConfig(**values))
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    from training.evaluation.report import evaluate_bundle

    evaluate_bundle(args.model_dir, args.data_dir, args.metadata, args.output_dir, args.split, args.skip_missing,
                    args.flips)
    print(f"wrote metrics.json and plots to {args.output_dir}")
    return 0


def command_describe(args: argparse.Namespace) -> int:
    from training.describe import describe_dataset

    describe_dataset(args.data_dir, args.output_dir, args.metadata)
    print(f"wrote the dataset report to {args.output_dir}")
    return 0


def command_model_card(args: argparse.Namespace) -> int:
    from training.model_card import rerender_model_card

    print(f"wrote {rerender_model_card(args.model_dir)}")
    return 0


def command_refit_input_check(args: argparse.Namespace) -> int:
    from training.export.refresh import refit_input_check

    check = refit_input_check(args.model_dir, args.data_dir, args.model_version, args.metadata).input_check
    print(f"refitted the input check of {args.model_dir}: {check.principal_directions} principal directions, "
          f"distance threshold {check.distance_threshold:.2f}")
    return 0


def command_reconvert_litert(args: argparse.Namespace) -> int:
    from training.export.refresh import reconvert_litert

    reconvert_litert(args.model_dir, args.data_dir, args.model_version, args.metadata)
    print(f"converted {args.model_dir / BundleFiles.LITERT_MODEL} again and verified it against the Keras model")
    return 0


def command_reevaluate(args: argparse.Namespace) -> int:
    from training.export.refresh import reevaluate

    reevaluate(args.model_dir, args.data_dir, args.model_version, args.metadata)
    print(f"scored the test split of {args.model_dir} again; metrics.json, the plots and the card are updated")
    return 0
