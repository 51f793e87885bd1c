from tests.training.data.test_ingest import write_dataset
from training.describe import describe_dataset


def test_report_counts_and_charts(tmp_path):
    rows = [("L1", "ISIC_1", "mel"), ("L1", "ISIC_2", "mel"), ("L2", "ISIC_3", "nv"), ("L3", "ISIC_4", "bkl")]
    (tmp_path / "data").mkdir()
    write_dataset(tmp_path / "data", rows, {"ISIC_1", "ISIC_2", "ISIC_3", "ISIC_4"})
    summary = describe_dataset(tmp_path / "data", tmp_path / "report").read_text()
    assert "4 images of 3 lesions; 2 cancerous (50.0%)" in summary
    assert "| mel | 2 | 1 | cancerous |" in summary
    assert "1 lesions have several images" in summary
    for chart in ("diagnoses", "images_per_lesion", "sex", "localization", "age", "samples_per_diagnosis"):
        assert (tmp_path / "report" / f"{chart}.png").stat().st_size > 1000
