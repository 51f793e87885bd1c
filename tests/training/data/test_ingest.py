from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from training.data.ingest import IngestError, binary_label, load_dataset, stratified_subset

HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"


def write_dataset(root: Path, rows: list[tuple[str, str, str]], present: set[str], layout: str = "kaggle") -> None:
    (root / "HAM10000_metadata.csv").write_text(
        HEADER + "".join(f"{lesion},{image},{dx},histo,50,male,back\n" for lesion, image, dx in rows))
    for index, (_, image_id, _) in enumerate(rows):
        if image_id in present:
            folder = root / (f"HAM10000_images_part_{index % 2 + 1}" if layout == "kaggle" else "images/a/b")
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (20, 15), (200, 100, 50)).save(folder / f"{image_id}.jpg")


@pytest.mark.parametrize(("dx", "label"), [("mel", 1), ("bcc", 1), ("akiec", 1), ("nv", 0), ("bkl", 0),
                                          ("df", 0), ("vasc", 0)])
def test_binary_label_follows_the_clinical_grouping(dx, label):
    assert binary_label(dx) == label


def test_unknown_diagnosis_is_refused():
    with pytest.raises(IngestError, match="unknown diagnosis 'scc'"):
        binary_label("scc")


@pytest.mark.parametrize("layout", ["kaggle", "nested"])
def test_images_are_found_in_any_folder_layout(tmp_path, layout):
    rows = [("L1", "ISIC_1", "mel"), ("L2", "ISIC_2", "nv"), ("L3", "ISIC_3", "bkl")]
    write_dataset(tmp_path, rows, {"ISIC_1", "ISIC_2", "ISIC_3"}, layout)
    table = load_dataset(tmp_path)
    assert table["image_id"].tolist() == ["ISIC_1", "ISIC_2", "ISIC_3"]
    assert table["label"].tolist() == [1, 0, 0]
    assert all(Path(p).is_file() for p in table["path"])


def test_missing_images_are_reported_with_count_and_ids(tmp_path):
    rows = [(f"L{i}", f"ISIC_{i}", "nv") for i in range(8)]
    write_dataset(tmp_path, rows, {"ISIC_0"})
    with pytest.raises(IngestError) as error:
        load_dataset(tmp_path)
    message = str(error.value)
    assert message.startswith("7 images listed")
    assert "ISIC_1, ISIC_2, ISIC_3, ISIC_4, ISIC_5, ..." in message
    assert "--skip-missing" in message


def test_a_lesion_mask_never_stands_in_for_a_missing_image(tmp_path):
    # HAM10000's masks/ISIC_x.png shares its image's name (and sorts before images/ in another layout)
    write_dataset(tmp_path, [("L1", "ISIC_1", "mel"), ("L2", "ISIC_2", "nv")], {"ISIC_2"}, layout="nested")
    for folder, name in (("masks", "ISIC_1.png"), ("Masks", "ISIC_2.png")):
        (tmp_path / folder).mkdir()
        Image.new("L", (20, 15), 255).save(tmp_path / folder / name)
    with pytest.raises(IngestError, match=r"1 images listed .* ISIC_1"):
        load_dataset(tmp_path)
    table = load_dataset(tmp_path, skip_missing=True)
    assert table["image_id"].tolist() == ["ISIC_2"] and "images" in Path(table["path"][0]).parts


def test_skip_missing_keeps_the_images_that_exist(tmp_path):
    write_dataset(tmp_path, [("L1", "ISIC_1", "mel"), ("L2", "ISIC_2", "nv")], {"ISIC_2"})
    table = load_dataset(tmp_path, skip_missing=True)
    assert table["image_id"].tolist() == ["ISIC_2"]


def test_metadata_without_required_columns_is_refused(tmp_path):
    (tmp_path / "HAM10000_metadata.csv").write_text("image_id,diagnosis\nISIC_1,mel\n")
    with pytest.raises(IngestError, match=r"lacks column\(s\) \['dx'\]"):
        load_dataset(tmp_path)


def test_missing_metadata_says_what_to_pass(tmp_path):
    with pytest.raises(IngestError, match="--metadata"):
        load_dataset(tmp_path)


def test_without_lesion_ids_each_image_is_its_own_lesion(tmp_path):
    (tmp_path / "labels.csv").write_text("image_id,dx\nISIC_1,mel\nISIC_2,nv\n")
    for image_id in ("ISIC_1", "ISIC_2"):
        Image.new("RGB", (20, 15)).save(tmp_path / f"{image_id}.png")
    table = load_dataset(tmp_path, tmp_path / "labels.csv")
    assert table["lesion_id"].tolist() == ["ISIC_1", "ISIC_2"]


def test_stratified_subset_keeps_the_label_balance():
    table = pd.DataFrame({"image_id": [str(i) for i in range(1000)], "label": [1] * 200 + [0] * 800})
    subset = stratified_subset(table, 100, seed=0)
    assert len(subset) == 100
    assert subset["label"].sum() == 20


def test_stratified_subset_keeps_the_table_order():
    # a quick run must score its test split in the order evaluate and reevaluate read it from the metadata
    table = pd.DataFrame({"image_id": [f"ISIC_{i:03d}" for i in reversed(range(1000))],
                          "label": [1] * 200 + [0] * 800})
    subset = stratified_subset(table, 100, seed=0)
    position = {image_id: index for index, image_id in enumerate(table["image_id"])}
    assert subset["image_id"].map(position).is_monotonic_increasing
