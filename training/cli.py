"""`python -m training <command>`: train, evaluate, describe, model-card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from training.model.classifier import BACKBONES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="run the whole recipe and write a model bundle")
    train.add_argument("--data-dir", type=Path, required=True, help="HAM10000 folder (metadata + images)")
    train.add_argument("--output-dir", type=Path, required=True, help="where the bundle is written")
    train.add_argument("--metadata", type=Path, help="metadata CSV (default: found under --data-dir)")
    train.add_argument("--checkpoint-dir", type=Path, help="default: <output-dir>.checkpoints")
    train.add_argument("--backbone", choices=BACKBONES, default="efficientnetb0")
    train.add_argument("--weights", default="imagenet", help="imagenet, none, or a weights file path")
    train.add_argument("--image-size", type=int, default=224)
    train.add_argument("--limit", type=int, help="use a stratified subset of N images")
    train.add_argument("--epochs-frozen", type=int, default=7)
    train.add_argument("--epochs-finetune", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr-frozen", type=float, default=1e-4)
    train.add_argument("--lr-finetune", type=float, default=2e-5)
    train.add_argument("--unfreeze-layers", type=int, default=80,
                       help="backbone layers trainable in phase 2 (BatchNorm stays frozen); 0 = all")
    train.add_argument("--patience", type=int, default=3, help="early-stopping patience (phase 2)")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--reduce-lr-patience", type=int, default=1,
                       help="phase 2: epochs without validation PR-AUC gain before the learning rate drops 0.3x")
    train.add_argument("--no-calibration", dest="calibrate", action="store_false",
                       help="skip Platt scaling on validation (folded into the last layer)")
    train.add_argument("--skip-missing", action="store_true", help="train without images that are missing")
    train.add_argument("--model-version", default="1.0.0")

    evaluate = commands.add_parser("evaluate", help="score a bundle on a labelled image set")
    evaluate.add_argument("--model-dir", type=Path, required=True)
    evaluate.add_argument("--data-dir", type=Path, required=True)
    evaluate.add_argument("--metadata", type=Path, help="CSV with image_id and dx (default: found)")
    evaluate.add_argument("--output-dir", type=Path, default=Path("evaluation"),
                          help="where metrics.json and plots go (default: ./evaluation)")

    describe = commands.add_parser("describe", help="write a dataset report (counts, demographics, samples)")
    describe.add_argument("--data-dir", type=Path, required=True)
    describe.add_argument("--metadata", type=Path)
    describe.add_argument("--output-dir", type=Path, default=Path("reports/dataset"))

    card = commands.add_parser("model-card", help="render MODEL_CARD.md from a bundle's own files")
    card.add_argument("--model-dir", type=Path, required=True)
    card.add_argument("--training-command", help="the exact command that trained the bundle")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data.ingest import IngestError
    from training.model.classifier import WeightsUnavailable

    try:
        if args.command == "train":
            return command_train(args)
        if args.command == "describe":
            return command_describe(args)
        if args.command == "model-card":
            return command_model_card(args)
        return command_evaluate(args)
    except (IngestError, WeightsUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def command_train(args: argparse.Namespace) -> int:
    from training.config import TrainConfig
    from training.train import run_training

    config = TrainConfig(
        data_dir=args.data_dir, output_dir=args.output_dir, metadata=args.metadata,
        checkpoint_dir=args.checkpoint_dir, backbone=args.backbone, weights=args.weights,
        image_size=args.image_size, limit=args.limit, seed=args.seed, batch_size=args.batch_size,
        epochs_frozen=args.epochs_frozen, learning_rate_frozen=args.lr_frozen,
        epochs_finetune=args.epochs_finetune, learning_rate_finetune=args.lr_finetune,
        unfreeze_layers=args.unfreeze_layers, early_stopping_patience=args.patience,
        reduce_lr_patience=args.reduce_lr_patience, calibrate=args.calibrate,
        skip_missing=args.skip_missing, model_version=args.model_version,
        command=shlex.join(["python", "-m", "training", *sys.argv[1:]]),
    )
    run_training(config)
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    from training.evaluation import evaluate_bundle

    evaluate_bundle(args.model_dir, args.data_dir, args.metadata, args.output_dir)
    return 0


def command_describe(args: argparse.Namespace) -> int:
    from training.describe import describe_dataset

    describe_dataset(args.data_dir, args.output_dir, args.metadata)
    return 0


def command_model_card(args: argparse.Namespace) -> int:
    from training.model_card import render_model_card

    print(f"wrote {render_model_card(args.model_dir, args.training_command)}")
    return 0
