"""Dataset report: class balance, images per lesion, demographics, sample images per diagnosis."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from contract.bundle import write_bytes_atomically
from training.data.ingest import load_dataset
from training.evaluation.plots import png_bytes

SAMPLES_PER_DIAGNOSIS = 6
SAMPLE_GRID = "samples_per_diagnosis.png"


def save_figure(figure: plt.Figure, path: Path) -> Path:
    return write_bytes_atomically(path, png_bytes(figure))


def describe_dataset(data_dir: Path, out_dir: Path, metadata: Path | None = None, seed: int = 0) -> Path:
    """Write summary.md and PNG charts into out_dir; returns the summary's path."""
    table = load_dataset(data_dir, metadata)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_counts(table["dx"].value_counts(), "images per diagnosis", out_dir / "diagnoses.png")
    plot_counts(table.groupby("lesion_id").size().value_counts().sort_index(), "lesions by images per lesion",
                out_dir / "images_per_lesion.png")
    for column in ("sex", "localization"):
        if column in table:
            plot_counts(table[column].fillna("unknown").value_counts(), f"images by {column}",
                        out_dir / f"{column}.png")
    if "age" in table:
        plot_age(table, out_dir / "age.png")
    plot_samples(table, out_dir / SAMPLE_GRID, seed)
    summary = out_dir / "summary.md"
    write_bytes_atomically(summary, summary_markdown(table, data_dir).encode())
    print(f"dataset report written to {out_dir}")
    return summary


def plot_counts(counts: pd.Series, title: str, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6, 3.5))
    counts.plot.bar(ax=axes, color="#4c72b0")
    axes.set(title=title, ylabel="count")
    axes.tick_params(axis="x", rotation=45)
    return save_figure(figure, path)


def plot_age(table: pd.DataFrame, path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6, 3.5))
    for label, name in ((0, "non-cancerous"), (1, "cancerous")):
        axes.hist(table.loc[table["label"] == label, "age"].dropna(), bins=range(0, 95, 5), alpha=0.6,
                  label=name, density=True)
    axes.set(title="age by class (density)", xlabel="age (years)")
    axes.legend()
    return save_figure(figure, path)


def plot_samples(table: pd.DataFrame, path: Path, seed: int) -> Path:
    diagnoses = sorted(table["dx"].unique())
    figure, grid = plt.subplots(len(diagnoses), SAMPLES_PER_DIAGNOSIS, squeeze=False,
                                figsize=(2 * SAMPLES_PER_DIAGNOSIS, 1.6 * len(diagnoses)))
    for row, dx in zip(grid, diagnoses, strict=True):
        rows = table[table["dx"] == dx]
        chosen = rows.sample(min(len(rows), SAMPLES_PER_DIAGNOSIS), random_state=seed)["path"].tolist()
        for axes, image_path in zip(row, chosen + [None] * SAMPLES_PER_DIAGNOSIS, strict=False):
            axes.axis("off")
            if image_path:
                with Image.open(image_path) as image:
                    axes.imshow(np.asarray(image.convert("RGB")))
        row[0].set_title(dx, loc="left", fontsize=10)
    return save_figure(figure, path)


def summary_markdown(table: pd.DataFrame, data_dir: Path) -> str:
    per_lesion = table.groupby("lesion_id").size()
    dx = table.groupby("dx").agg(images=("image_id", "size"), lesions=("lesion_id", "nunique"),
                                 cancerous=("label", "max")).sort_values("images", ascending=False)
    lines = [
        f"# Dataset report: {data_dir.name}", "",
        f"- {len(table)} images of {table['lesion_id'].nunique()} lesions; "
        f"{int(table['label'].sum())} cancerous ({table['label'].mean():.1%}).",
        f"- Images per lesion: mean {per_lesion.mean():.2f}, max {per_lesion.max()}; "
        f"{int((per_lesion > 1).sum())} lesions have several images (hence the lesion-grouped split).",
    ]
    if "age" in table:
        lines.append(f"- Age: median {table['age'].median():.0f}, missing for {int(table['age'].isna().sum())}.")
    lines += ["", "| diagnosis | images | lesions | class |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {row.images} | {row.lesions} | {'cancerous' if row.cancerous else 'non-cancerous'} |"
              for name, row in dx.iterrows()]
    for column in ("sex", "localization"):
        if column in table:
            counts = table[column].fillna("unknown").value_counts()
            lines += ["", f"**{column}**: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    lines += ["", "Charts: `diagnoses.png`, `images_per_lesion.png`, `sex.png`, `localization.png`, `age.png`; "
              f"sample images: `{SAMPLE_GRID}`.", ""]
    return "\n".join(lines)
