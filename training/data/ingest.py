"""Ingest: a HAM10000-style metadata CSV joined to image files found anywhere under a folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contract.diagnoses import CLASS_CODES, class_index
from contract.schema import POSITIVE_DIAGNOSES
from training.errors import IngestError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_FOLDERS = frozenset({"masks", "mask", "segmentations"})
REQUIRED_COLUMNS = ("image_id", "dx")
SHOWN_IDS = 5


def binary_label(dx: str) -> int:
    """mel, bcc, akiec -> 1 (cancerous); nv, bkl, df, vasc -> 0."""
    if dx not in CLASS_CODES:
        raise IngestError(f"unknown diagnosis {dx!r}; expected one of {sorted(CLASS_CODES)}")
    return int(dx in POSITIVE_DIAGNOSES)


def find_metadata(data_dir: Path) -> Path:
    candidates = sorted(data_dir.rglob("HAM10000_metadata.csv")) or sorted(data_dir.rglob("*metadata*.csv"))
    if not candidates:
        raise IngestError(f"no HAM10000_metadata.csv under {data_dir}; pass --metadata CSV")
    return candidates[0]


def index_images(data_dir: Path) -> dict[str, Path]:
    """image_id -> path, for every image file in the tree (Kaggle part_1/part_2, flat, or nested).

    Lesion masks are not images: HAM10000's masks/ISIC_0024306.png shares its image's name, so a folder named
    masks is left out, or a missing image would silently become its mask.
    """
    index: dict[str, Path] = {}
    for path in sorted(data_dir.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not _is_mask(path.relative_to(data_dir)):
            index.setdefault(path.stem, path)
    return index


def _is_mask(relative: Path) -> bool:
    return any(part.lower() in MASK_FOLDERS for part in relative.parts[:-1])


def load_dataset(data_dir: Path, metadata: Path | None = None, skip_missing: bool = False) -> pd.DataFrame:
    """One row per image: image_id, lesion_id, dx, label, path (+ age, sex, localization if given)."""
    metadata = metadata or find_metadata(data_dir)
    table = _read_metadata(metadata)
    paths = index_images(data_dir)
    table["path"] = table["image_id"].map(lambda image_id: str(paths[image_id]) if image_id in paths else None)
    missing = table.loc[table["path"].isna(), "image_id"].tolist()
    if missing:
        report = describe_problem(f"images listed in {metadata.name} but not found under {data_dir}", missing)
        if not skip_missing or len(missing) == len(table):
            raise IngestError(report + " (pass --skip-missing to go on without them)")
        print(f"warning: {report}; skipping them")
        table = table.dropna(subset=["path"]).reset_index(drop=True)
    return table


def _read_metadata(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"image_id": str, "lesion_id": str, "dx": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise IngestError(f"cannot read metadata {path}: {error}") from error
    absent = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if absent:
        raise IngestError(f"{path} lacks column(s) {absent}; it needs {list(REQUIRED_COLUMNS)}")
    table = table.dropna(subset=list(REQUIRED_COLUMNS)).drop_duplicates("image_id").reset_index(drop=True)
    if table.empty:
        raise IngestError(f"{path} has no rows with image_id and dx")
    if "lesion_id" not in table.columns:
        table["lesion_id"] = table["image_id"]  # without lesion ids each image is its own group
    table["lesion_id"] = table["lesion_id"].fillna(table["image_id"])
    table["dx"] = table["dx"].str.strip().str.lower()
    table["label"] = table["dx"].map(binary_label).astype("int64")
    table["class_index"] = table["dx"].map(class_index).astype("int64")
    return table


def describe_problem(what: str, ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
    return f"{len(ids)} {what}: {shown}"


def stratified_subset(table: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """About `limit` images with the full table's label balance (for quick runs), in the table's order.

    The order is the one a full run sees, and the one `evaluate` and the refreshes score in: a batch's
    composition moves a probability by float noise, and on a near-tied score that noise can reorder a bootstrap.
    """
    if limit is None or limit >= len(table):
        return table
    fraction = limit / len(table)
    subset = table.groupby("label", group_keys=False).sample(frac=fraction, random_state=seed)
    return table[table.index.isin(subset.index)].reset_index(drop=True)
