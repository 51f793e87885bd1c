"""Evaluating a bundle on its own training data scores only its test split, or on request its validation split."""

import pandas as pd
import pytest

from contract.schema import BundleFiles
from training.errors import IngestError
from training.evaluation.report import lesion_groups, restrict_to_test_split, restrict_to_validation_split


def test_only_test_and_foreign_images_are_kept(tmp_path):
    manifest = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "lesion_id": ["1", "2", "3", "4"],
                             "dx": ["nv", "mel", "nv", "bcc"], "label": [0, 1, 0, 1],
                             "split": ["train", "validation", "test", "test"]})
    manifest.to_csv(tmp_path / BundleFiles.SPLIT_MANIFEST, index=False)
    table = pd.DataFrame({"image_id": ["a", "b", "c", "d", "external"], "dx": ["nv", "mel", "nv", "bcc", "mel"]})
    kept, note, prevalence = restrict_to_test_split(table, tmp_path)
    assert kept["image_id"].tolist() == ["c", "d", "external"]
    assert note == ("the bundle's own test split: 2 images and 1 images outside the bundle's data; 2 images of "
                    "train/validation lesions excluded")
    assert prevalence is not None and prevalence.sum() == 1.0 and prevalence[5] == 1.0  # train is one nevus


def test_an_unlisted_image_of_a_fitted_lesion_is_excluded_with_its_lesion(tmp_path):
    # a --limit run's manifest names only the images it sampled; other views of its lesions exist in the folder
    manifest = pd.DataFrame({"image_id": ["a", "c"], "lesion_id": ["1", "3"], "dx": ["nv", "nv"], "label": [0, 0],
                             "split": ["train", "test"]})
    manifest.to_csv(tmp_path / BundleFiles.SPLIT_MANIFEST, index=False)
    table = pd.DataFrame({"image_id": ["a", "a2", "c", "c2", "e"], "lesion_id": ["1", "1", "3", "3", "9"],
                          "dx": ["nv"] * 5})
    kept, note, _ = restrict_to_test_split(table, tmp_path)
    assert kept["image_id"].tolist() == ["c", "c2", "e"]  # a2 is another view of the training lesion 1
    assert "2 images of train/validation lesions excluded" in note
    only_unlisted_views = table[table["image_id"].isin(["a2", "e"])]  # no image the manifest names
    kept, _, _ = restrict_to_test_split(only_unlisted_views, tmp_path)
    assert kept["image_id"].tolist() == ["e"]


def test_a_set_foreign_to_the_bundle_is_scored_whole(tmp_path):
    pd.DataFrame({"image_id": ["a"], "lesion_id": ["1"], "dx": ["nv"], "label": [0], "split": ["test"]}).to_csv(
        tmp_path / BundleFiles.SPLIT_MANIFEST, index=False)
    table = pd.DataFrame({"image_id": ["x", "y"], "dx": ["nv", "mel"]})
    kept, note, _ = restrict_to_test_split(table, tmp_path)
    assert len(kept) == 2 and "none belong" in note


def test_the_validation_split_keeps_only_its_own_images(tmp_path):
    manifest = pd.DataFrame({"image_id": ["a", "b", "c"], "lesion_id": ["1", "2", "3"], "dx": ["nv", "mel", "nv"],
                             "label": [0, 1, 0], "split": ["train", "validation", "test"]})
    manifest.to_csv(tmp_path / BundleFiles.SPLIT_MANIFEST, index=False)
    table = pd.DataFrame({"image_id": ["a", "b", "c", "external"], "dx": ["nv", "mel", "nv", "mel"]})
    kept, note, _ = restrict_to_validation_split(table, tmp_path)
    assert kept["image_id"].tolist() == ["b"] and "validation split: 1 images" in note
    with pytest.raises(IngestError, match="none of the given images"):
        restrict_to_validation_split(table[table["image_id"] != "b"], tmp_path)
    with pytest.raises(IngestError, match="no split_manifest"):
        restrict_to_validation_split(table, tmp_path / "elsewhere")


def test_a_set_without_lesion_ids_is_resampled_by_image():
    # ingest makes each image its own lesion when the CSV has no lesion_id: that is resampling images
    own = pd.DataFrame({"image_id": ["a", "b"], "lesion_id": ["a", "b"]})
    assert lesion_groups(own) is None and lesion_groups(own.drop(columns="lesion_id")) is None
    grouped = pd.DataFrame({"image_id": ["a", "b", "c"], "lesion_id": ["1", "1", "c"]})
    assert lesion_groups(grouped).tolist() == ["1", "1", "c"]
