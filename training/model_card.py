"""MODEL_CARD.md, rendered from the bundle's own contract, thresholds and metrics (never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from contract.bundle import read_contract, read_thresholds, write_bytes_atomically
from contract.schema import BundleFiles

MODEL_CARD = "MODEL_CARD.md"
HEADLINE = ("roc_auc", "pr_auc", "sensitivity", "specificity", "balanced_accuracy", "accuracy", "precision",
            "brier", "ece")


def render_model_card(bundle_dir: Path, training_command: str | None = None) -> Path:
    contract = read_contract(bundle_dir)
    thresholds = read_thresholds(bundle_dir)
    metrics = json.loads((bundle_dir / BundleFiles.METRICS).read_text())
    history_path = bundle_dir / BundleFiles.TRAINING_HISTORY
    history = json.loads(history_path.read_text()) if history_path.exists() else {}
    sections = [
        intro(contract),
        data_section(),
        training_section(contract, history, training_command),
        metrics_section(metrics, thresholds),
        subgroup_section(metrics),
        limitations_section(),
    ]
    return write_bytes_atomically(bundle_dir / MODEL_CARD, "\n".join(sections).encode())


def intro(contract) -> str:
    size, grid = contract.input.image_size, contract.output.cam_grid
    facts = [
        ("architecture", f"{contract.backbone} → GAP → BatchNorm → Dense(256, relu) → Dropout(0.4) → "
                         "Dense(1, sigmoid)"),
        ("backbone weights", contract.backbone_weights),
        ("input", f"RGB, {size}×{size}, values 0–255, whole image squashed (bilinear, antialiased), "
                  "EXIF orientation applied"),
        ("output", f"probability of *cancerous*; Grad-CAM of the cancer logit at `{contract.gradcam_layer}` "
                   f"({grid}×{grid})"),
        ("created", contract.created_at),
        ("licence", contract.licence),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in facts)
    return f"""# Model card: {contract.model_name} {contract.model_version}

**Decision support, not a diagnosis.** The model estimates the probability that a dermoscopic
image shows a cancerous lesion (melanoma, basal cell carcinoma, or actinic keratosis /
intraepithelial carcinoma). It must not be used to rule a lesion in or out without a clinician.

| | |
|---|---|
{table}
"""


def data_section() -> str:
    return """## Data

HAM10000 (Tschandl P., Rosendahl C., Kittler H. *The HAM10000 dataset, a large collection of
multi-source dermatoscopic images of common pigmented skin lesions.* Sci. Data 5, 180161 (2018),
doi:10.1038/sdata.2018.161), licensed CC BY-NC 4.0: the model inherits the **non-commercial** restriction.
10,015 images of 7,470 lesions from two sites (Vienna, Queensland), used here as 200×150 downscaled copies.
Labels: mel, bcc, akiec → cancerous; nv, bkl, df, vasc → non-cancerous (19.5 % cancerous).
Split: 70/15/15 by `lesion_id` (no lesion in two splits), stratified by label, seed in the contract;
the manifest is `split_manifest.csv`. Dataset report: [dataset_report/summary.md](dataset_report/summary.md).
"""


def training_section(contract, history: dict, training_command: str | None) -> str:
    recipe = "\n".join(f"| {key} | {value} |" for key, value in contract.training.items())
    epochs = {phase: len(history.get(phase, [])) for phase in ("frozen", "finetune")}
    platt = history.get("platt_scaling")
    lines = ["## Training", "", "| setting | value |", "|---|---|", recipe, ""]
    if training_command:
        lines += ["Command:", "", "```bash", training_command, "```", ""]
    lines.append(f"Epochs run: {epochs['frozen']} frozen-backbone, {epochs['finetune']} fine-tuning (early "
                 "stopping on validation PR-AUC, best weights restored)"
                 + (f"; wall time {history['train_seconds'] / 60:.0f} min on 2 CPU cores." if "train_seconds"
                    in history else "."))
    if platt:
        lines.append(f"Calibration: Platt scaling fitted on validation (scale {platt['scale']:.3f}, shift "
                     f"{platt['shift']:.3f}), folded into the last layer.")
    return "\n".join(lines) + "\n"


def metrics_section(metrics: dict, thresholds) -> str:
    test, intervals = metrics["test"], metrics.get("confidence_intervals_95", {})
    rows = []
    for name in HEADLINE:
        interval = intervals.get(name)
        shown = f"{interval[0]:.3f} – {interval[1]:.3f}" if interval else ""
        rows.append(f"| {name} | {test[name]:.3f} | {shown} |")
    operating = ""
    if thresholds:
        sensitive = metrics.get("high_sensitivity", {})
        operating = (f"\nOperating points (tuned on **validation**, reported on test):\n\n"
                     "| point | threshold | criterion | test sensitivity | test specificity |\n"
                     "|---|---:|---|---:|---:|\n"
                     f"| default | {thresholds.threshold:.3f} | {thresholds.criterion} | {test['sensitivity']:.3f} | "
                     f"{test['specificity']:.3f} |\n"
                     f"| high sensitivity | {thresholds.high_sensitivity.threshold:.3f} | "
                     f"{thresholds.high_sensitivity.criterion} | {sensitive.get('sensitivity', float('nan')):.3f} | "
                     f"{sensitive.get('specificity', float('nan')):.3f} |\n")
    return (f"## Evaluation\n\nOn {metrics['evaluated_on']} (n = {test['n']}, {test['positives']} cancerous), "
            f"never used for training, early stopping, calibration or thresholds. 95 % intervals: "
            f"{1000} bootstrap resamples of images.\n\n| metric | test | 95 % CI |\n|---|---:|---|\n"
            + "\n".join(rows) + "\n" + operating +
            "\nPlots: [ROC](roc.png), [precision-recall](pr.png), [calibration](calibration.png), "
            "[confusion matrix](confusion_matrix.png).\n")


def subgroup_section(metrics: dict) -> str:
    lines = ["## Subgroups (test split, groups with at least 10 images)", ""]
    for column, groups in metrics.get("subgroups", {}).items():
        lines += [f"**{column}**", "", "| group | n | cancerous | ROC-AUC | sensitivity | specificity |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, values in groups.items():
            lines.append(f"| {name} | {values['n']} | {values['positives']} | {values['roc_auc']:.3f} | "
                         f"{values['sensitivity']:.3f} | {values['specificity']:.3f} |")
        lines.append("")
    lines.append("Within one diagnosis only one class exists: read sensitivity for mel/bcc/akiec and "
                 "specificity for nv/bkl/df/vasc (ROC-AUC is undefined there: nan).")
    return "\n".join(lines) + "\n"


def limitations_section() -> str:
    return """## Intended use and limitations

- Intended use: a second opinion for clinicians and researchers looking at **dermoscopic** images of
  pigmented lesions; a triage aid that flags lesions for a closer look. Not for clinical photographs,
  not for non-pigmented lesions, not a replacement for histopathology.
- Trained on two sites' populations, mostly fair skin (Fitzpatrick I–III); performance on darker skin,
  on other dermatoscopes and on lesion types absent from HAM10000 (e.g. squamous cell carcinoma beyond
  akiec, Merkel cell) is unknown.
- Trained on 200×150 downscaled copies; random blur/sharpen augmentation is meant to make it tolerate
  sharper photos, but full-resolution inputs were not part of this evaluation.
- The test split comes from the same sources as the training data; expect lower numbers on external data.
- Probabilities are calibrated on the validation split; the prevalence of cancerous lesions there (≈ 20 %)
  is far above a screening population's, so positive predictive value in practice will be lower.
"""
