"""MODEL_CARD.md, rendered from the bundle's own contract, thresholds and metrics (never typed by hand).

Dataset sizes are counted from the split manifest, the hardware is read from the machine that trained.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pandas as pd

from contract.bundle import read_contract, read_thresholds, sha256_of, write_bytes_atomically, write_json_atomically
from contract.diagnoses import BY_CODE
from contract.schema import BundleFiles, InputCheckSpec, ModelContract, ThresholdReport
from training.evaluation.metrics import BOOTSTRAP_ROUNDS
from training.explanation import DISPLAY_PERCENTILE
from training.model.classifier import DROPOUT, HIDDEN_UNITS

MODEL_CARD = BundleFiles.MODEL_CARD
HEADLINE = ("roc_auc", "pr_auc", "sensitivity", "specificity", "balanced_accuracy", "accuracy", "precision",
            "brier", "ece")


def render_model_card(bundle_dir: Path, contract: ModelContract, thresholds: ThresholdReport | None,
                      metrics: dict, history: dict) -> Path:
    """Write MODEL_CARD.md into bundle_dir from these values (the bundle's other files must already exist)."""
    manifest = pd.read_csv(bundle_dir / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    sections = [
        intro(contract),
        data_section(manifest, contract.input.image_size),
        training_section(contract, history),
        metrics_section(metrics, thresholds),
        differential_section(metrics.get("differential")),
        input_check_section(contract),
        subgroup_section(metrics),
        limitations_section(contract.input.image_size, contract.training.get("colour_constancy", "none"),
                            contract.input_check.max_noise is not None),
    ]
    return write_bytes_atomically(bundle_dir / MODEL_CARD, "\n".join(sections).encode())


def rerender_model_card(bundle_dir: Path) -> Path:
    """The `model-card` command: render the card from a bundle's files and update its hash in the contract."""
    contract = read_contract(bundle_dir)
    metrics, history = read_history_and_metrics(bundle_dir)
    card = render_model_card(bundle_dir, contract, read_thresholds(bundle_dir, contract), metrics, history)
    files = {**contract.files, card.name: sha256_of(card)}
    write_json_atomically(bundle_dir / BundleFiles.CONTRACT, contract.model_copy(update={"files": files}))
    return card


def read_history_and_metrics(bundle_dir: Path) -> tuple[dict, dict]:
    """A bundle's metrics.json and (if present) history.json: what the card reports besides the contract."""
    metrics = json.loads((bundle_dir / BundleFiles.METRICS).read_text())
    history_path = bundle_dir / BundleFiles.TRAINING_HISTORY
    return metrics, json.loads(history_path.read_text()) if history_path.exists() else {}


def intro(contract: ModelContract) -> str:
    size, explanation = contract.input.image_size, contract.explanation
    facts = [
        ("architecture", f"{contract.backbone} → GAP → BatchNorm → Dense({HIDDEN_UNITS}, relu) → Dropout({DROPOUT}) → "
                         f"Dense({len(contract.output.classes)}) → softmax over the diagnoses"),
        ("backbone weights", contract.backbone_weights),
        ("input", f"RGB, {size}×{size}, values 0–255, whole image squashed (bilinear, antialiased), "
                  "EXIF orientation applied"),
        ("output", f"probabilities of {', '.join(contract.output.classes)}; cancer probability = their sum over "
                   "mel, bcc, akiec"),
        ("explanation", f"LayerCAM at `{explanation.layer}` ({explanation.grid}×{explanation.grid}), of the "
                        f"cancer log-odds, shown on one absolute scale (validation {DISPLAY_PERCENTILE:g}th percentile "
                        "of peaks)"),
        ("created", contract.created_at),
        ("licence", contract.licence),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in facts)
    return f"""# Model card: {contract.model_name} {contract.model_version}

**Decision support, not a diagnosis.** The model estimates, for a dermoscopic image of a pigmented
lesion, the probability of each of the seven HAM10000 diagnoses, and from them the probability that the
lesion is cancerous (melanoma, basal cell carcinoma, or actinic keratosis / intraepithelial carcinoma).
It must not be used to rule a lesion in or out without a clinician.

| | |
|---|---|
{table}
"""


def data_section(manifest: pd.DataFrame, image_size: int) -> str:
    counts = manifest.groupby(["split"]).size()
    by_dx = manifest["dx"].value_counts()
    diagnoses = ", ".join(f"{code} {by_dx.get(code, 0)}" for code in BY_CODE)
    cancerous = manifest["label"].mean() * 100
    return f"""## Data

HAM10000 (Tschandl P., Rosendahl C., Kittler H. *The HAM10000 dataset, a large collection of
multi-source dermatoscopic images of common pigmented skin lesions.* Sci. Data 5, 180161 (2018),
doi:10.1038/sdata.2018.161), licensed CC BY-NC 4.0: the model inherits the **non-commercial** restriction.
This bundle used {len(manifest):,} images of {manifest["lesion_id"].nunique():,} lesions ({diagnoses};
{cancerous:.1f} % cancerous), each squashed to {image_size}×{image_size} px for the model.
Split: {counts.get("train", 0):,} train / {counts.get("validation", 0):,} validation / {counts.get("test", 0):,} test
images by `lesion_id` (no lesion in two splits), stratified by the cancerous label, seed in the contract;
the manifest is `split_manifest.csv`.
"""


def training_section(contract: ModelContract, history: dict) -> str:
    recipe = "\n".join(f"| {key} | {value} |" for key, value in contract.training.items())
    epochs = {phase: len(history.get(phase, [])) for phase in ("frozen", "finetune")}
    calibration = history.get("calibration")
    hardware = f"{platform.machine()} with {os.cpu_count()} CPU cores"
    lines = ["## Training", "", "| setting | value |", "|---|---|", recipe, ""]
    lines.append(f"Epochs run: {epochs['frozen']} frozen-backbone, {epochs['finetune']} fine-tuning (early "
                 "stopping on validation PR-AUC of the cancer probability, best weights restored)"
                 + (f"; {history['train_seconds'] / 60:.0f} min of epochs" if "train_seconds" in history else "")
                 + f"; this card was rendered on {hardware}.")
    if calibration:
        lines.append(f"Calibration: temperature {calibration['temperature']:.3f} and one bias per diagnosis, "
                     "fitted on validation by log-loss, folded into the logits layer.")
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
            f"{BOOTSTRAP_ROUNDS} bootstrap resamples of {metrics.get('confidence_intervals_resample', 'images')}"
            ".\n\n| metric | test | 95 % CI |\n|---|---:|---|\n"
            + "\n".join(rows) + "\n" + operating +
            "\nPlots: [ROC](roc.png), [precision-recall](pr.png), [calibration](calibration.png), "
            "[confusion matrix](confusion_matrix.png).\n")


def differential_section(differential: dict | None) -> str:
    if not differential:
        return ""
    rows = [f"| {code} | {BY_CODE[code].name} | {v['n']} | {v['recall']:.3f} | {v['precision']:.3f} | "
            f"{v['roc_auc_one_vs_rest']:.3f} |" for code, v in differential["per_class"].items()]
    adjusted = differential.get("balanced_accuracy_prevalence_adjusted")
    extra = (f" With the top diagnosis chosen as argmax(probability / training prevalence), the rule that "
             f"maximises balanced accuracy, it is {adjusted:.3f} (reported only; the service shows the "
             "calibrated probabilities)." if adjusted is not None else "")
    return (f"## Seven-class differential (test split)\n\nBalanced accuracy of the top diagnosis (mean "
            f"per-class recall, the ISIC 2018 Task 3 metric): **{differential['balanced_accuracy']:.3f}**; "
            f"accuracy {differential['accuracy']:.3f}.{extra}\n\n"
            "| code | diagnosis | n | recall | precision | one-vs-rest ROC-AUC |\n|---|---|---:|---:|---:|---:|\n"
            + "\n".join(rows) + "\n\nConfusion matrix: [confusion_matrix_7.png](confusion_matrix_7.png).\n")


def input_check_section(contract: ModelContract) -> str:
    check = contract.input_check
    return f"""## Input check

Every answer carries `warnings`. `out_of_distribution`: the Mahalanobis distance of the pooled backbone
features to the training split's (shrunk covariance, its {check.principal_directions} leading principal
directions kept and the rest sharing one variance) is above {check.distance_threshold:.1f}, the validation
split's {check.distance_percentile:g}th percentile. Quality limits, the training split's
{check.quality_percentiles[0]:g}th / {check.quality_percentiles[1]:g}th percentiles on the model input:
`blurry` below a Laplacian variance of {check.min_sharpness:.1f}; `underexposed` below a mean luma of
{check.min_brightness:.1f}; `overexposed` above {check.max_brightness:.1f};{_noise_limit(check)} `low_resolution`
when the image's shorter side is under {check.min_short_side} px.
"""


def _noise_limit(check: InputCheckSpec) -> str:
    if check.max_noise is None:  # a bundle exported before the noise check
        return ""
    return f" `noisy` when the estimated pixel noise is above {check.max_noise:.2f} grey levels;"


def subgroup_section(metrics: dict) -> str:
    lines = ["## Subgroups (test split, groups with at least 10 images)", ""]
    for column, groups in sorted(metrics.get("subgroups", {}).items()):  # metrics.json is stored key-sorted
        lines += [f"**{column}**", "", "| group | n | cancerous | ROC-AUC | sensitivity | specificity |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, values in groups.items():
            lines.append(f"| {name} | {values['n']} | {values['positives']} | {values['roc_auc']:.3f} | "
                         f"{values['sensitivity']:.3f} | {values['specificity']:.3f} |")
        lines.append("")
    lines.append("Within one diagnosis only one class exists: read sensitivity for mel/bcc/akiec and "
                 "specificity for nv/bkl/df/vasc (ROC-AUC is undefined there: nan).")
    return "\n".join(lines) + "\n"


def limitations_section(image_size: int, colour_constancy: str = "none", noise_checked: bool = True) -> str:
    return f"""## Intended use and limitations

- Intended use: a second opinion for clinicians and researchers looking at **dermoscopic** images of
  pigmented lesions; a triage aid that flags lesions for a closer look. Not for clinical photographs,
  not for non-pigmented lesions, not a replacement for histopathology.
- Trained on two sites' populations, mostly fair skin (Fitzpatrick I–III); performance on darker skin,
  on other dermatoscopes and on lesion types absent from HAM10000 (e.g. squamous cell carcinoma beyond
  akiec, Merkel cell) is unknown.
- Trained at {image_size}×{image_size} px on the dataset's downscaled copies; blur/sharpen and colour-cast
  augmentation are meant to make it tolerate other cameras and dermatoscopes, but no external images were part
  of this evaluation.{_colour_constancy_note(colour_constancy, noise_checked)}
- The input check flags images unlike the training data; it cannot vouch for an image it passes.
- The test split comes from the same sources as the training data; expect lower numbers on external data.
- Probabilities are calibrated on the validation split; the prevalence of cancerous lesions there (≈ 20 %)
  is far above a screening population's, so positive predictive value in practice will be lower.
"""


def _colour_constancy_note(method: str, noise_checked: bool) -> str:
    if method == "none":  # bundles trained before the layer existed
        return ""
    warned = " (the input check warns\n  about noise)" if noise_checked else ""
    return (f"\n- Its first layer divides out each image's illuminant ({method}), so a colour cast or an exposure "
            f"change of the\n  whole image moves it much less; sensor noise and heavy JPEG compression still "
            f"do{warned}.")
