"""Lesion-grouped, label-stratified 70/15/15 split: no lesion_id ever lands in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

SPLITS = ("train", "validation", "test")
N_FOLDS = 20  # 20 folds of 5 %: 14 train, 3 validation, 3 test
HELD_OUT_SHARE = 0.15  # of the folds, for validation and for test each


def fold_plan(n_folds: int) -> dict[str, range]:
    """Whole folds per split, as near 70/15/15 as n_folds allows, validation and test never empty (20: 14/3/3)."""
    held_out = max(1, int(HELD_OUT_SHARE * n_folds + 0.5))
    train = n_folds - 2 * held_out
    return {"train": range(0, train), "validation": range(train, train + held_out),
            "test": range(train + held_out, n_folds)}


def assign_splits(table: pd.DataFrame, seed: int) -> pd.Series:
    """A 'split' value per row, deterministic for a given table and seed."""
    n_folds = min(N_FOLDS, _max_folds(table))
    folds = np.empty(len(table), dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(table, table["label"], groups=table["lesion_id"])):
        folds[held_out] = fold
    names = np.empty(len(table), dtype=object)
    for split, fold_range in fold_plan(n_folds).items():
        names[np.isin(folds, list(fold_range))] = split
    return pd.Series(names, index=table.index, name="split")


def _max_folds(table: pd.DataFrame) -> int:
    lesions_per_label = table.groupby("label")["lesion_id"].nunique()
    folds = int(lesions_per_label.min()) if len(lesions_per_label) == 2 else 0
    if folds < 5:
        raise ValueError(f"too few lesions per class to split 70/15/15 (smallest class has {folds}; need 5+)")
    return folds


def check_no_leakage(table: pd.DataFrame) -> None:
    """Raise if any lesion_id appears in more than one split."""
    splits_per_lesion = table.groupby("lesion_id")["split"].nunique()
    leaked = splits_per_lesion[splits_per_lesion > 1]
    if not leaked.empty:
        raise AssertionError(f"{len(leaked)} lesion_id(s) appear in several splits, e.g. {leaked.index[0]}")
