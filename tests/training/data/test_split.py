import numpy as np
import pandas as pd
import pytest

from contract.schema import BundleFiles
from tests.conftest import REPO_ROOT
from training.data.ingest import load_dataset
from training.data.split import assign_splits, check_no_leakage, fold_plan


def lesion_table(lesions: int = 600, seed: int = 0) -> pd.DataFrame:
    """Several images per lesion (1-4), 20 % cancerous lesions."""
    rng = np.random.default_rng(seed)
    rows = []
    for lesion in range(lesions):
        label = int(rng.random() < 0.2)
        rows += [(f"HAM_{lesion}", f"ISIC_{lesion}_{k}", label) for k in range(rng.integers(1, 5))]
    return pd.DataFrame(rows, columns=["lesion_id", "image_id", "label"])


def test_no_lesion_appears_in_two_splits():
    table = lesion_table()
    table["split"] = assign_splits(table, seed=1)
    assert table.groupby("lesion_id")["split"].nunique().max() == 1
    check_no_leakage(table)


def test_split_is_70_15_15_and_stratified():
    table = lesion_table(2000)
    table["split"] = assign_splits(table, seed=3)
    shares = table["split"].value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.70, abs=0.02)
    assert shares["validation"] == pytest.approx(0.15, abs=0.02)
    assert shares["test"] == pytest.approx(0.15, abs=0.02)
    positive_rate = table.groupby("split")["label"].mean()
    assert positive_rate.max() - positive_rate.min() < 0.03


def test_split_is_deterministic_by_seed():
    table = lesion_table()
    assert assign_splits(table, seed=5).equals(assign_splits(table, seed=5))
    assert not assign_splits(table, seed=5).equals(assign_splits(table, seed=6))


def test_leak_check_catches_a_shared_lesion():
    table = pd.DataFrame({"lesion_id": ["A", "A", "B"], "split": ["train", "test", "train"]})
    with pytest.raises(AssertionError, match="1 lesion_id"):
        check_no_leakage(table)


def test_real_ham10000_split_has_no_leakage(ham10000_dir):
    table = load_dataset(ham10000_dir)
    table["split"] = assign_splits(table, seed=42)
    check_no_leakage(table)
    lesions_per_split = [set(group) for _, group in table.groupby("split")["lesion_id"]]
    assert all(not (a & b) for i, a in enumerate(lesions_per_split) for b in lesions_per_split[i + 1:])
    assert table["split"].value_counts(normalize=True)["train"] == pytest.approx(0.70, abs=0.01)
    # the code still draws the shipped bundle's split, row for row (the README's "same split as 1.x")
    shipped = pd.read_csv(REPO_ROOT / "models" / BundleFiles.SPLIT_MANIFEST).set_index("image_id")["split"]
    assert table.set_index("image_id")["split"].sort_index().equals(shipped.sort_index().rename("split"))


def test_the_fold_plan_is_14_3_3_and_never_leaves_a_split_empty():
    assert {split: list(folds) for split, folds in fold_plan(20).items()} == {
        "train": list(range(14)), "validation": [14, 15, 16], "test": [17, 18, 19]}
    for n_folds in range(5, 21):
        plan = fold_plan(n_folds)
        assert sorted(fold for folds in plan.values() for fold in folds) == list(range(n_folds)), n_folds
        assert len(plan["validation"]) == len(plan["test"]) >= 1 and len(plan["train"]) >= 0.55 * n_folds, n_folds


def test_a_small_dataset_still_gets_a_test_split():
    # six cancerous lesions allow six folds: rescaled onto the 20-fold plan they had left test empty
    table = pd.DataFrame({"lesion_id": [f"L{i}" for i in range(30)], "image_id": [f"I{i}" for i in range(30)],
                          "label": [1] * 6 + [0] * 24})
    counts = assign_splits(table, seed=0).value_counts()
    assert set(counts.index) == {"train", "validation", "test"}
