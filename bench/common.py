"""Shared by the benchmarks: which bundle to measure, a sample image, a uvicorn subprocess, /proc readings."""

from __future__ import annotations

import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from contract.bundle import write_bytes_atomically

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
HAM10000 = REPO_ROOT.parent / "shared" / "data" / "ham10000"  # where the README puts the dataset
QUICK_RESULTS_DIR = Path(tempfile.gettempdir()) / "skin-cancer-bench-quick"
SHIPPED_MODEL_DIR = REPO_ROOT / "models"
FALLBACK_BUNDLE_DIR = Path(tempfile.gettempdir()) / "skin-cancer-bench-bundle-192"
HAM10000_IMAGES = HAM10000 / "images"
CONTRACT = "contract.json"


# --------------------------------------------------------------------------- the bundle under test


@dataclass(frozen=True)
class BundleChoice:
    path: Path
    shipped: bool  # the repository's models/ bundle, as opposed to a stand-in
    note: str

    def describe(self) -> dict:
        contract = json.loads((self.path / CONTRACT).read_text())
        return {
            "path": str(self.path), "shipped": self.shipped, "note": self.note,
            "model_version": contract.get("model_version"), "backbone": contract.get("backbone"),
            "image_size": contract["input"]["image_size"], "files": contract.get("files", {}),
        }


def choose_bundle(model_dir: Path | None = None) -> BundleChoice:
    """An explicit --model-dir, else the shipped models/ bundle, else a real Lite0 at 192 with a random head."""
    if model_dir is not None:
        return BundleChoice(model_dir.resolve(), model_dir.resolve() == SHIPPED_MODEL_DIR, "given with --model-dir")
    if (SHIPPED_MODEL_DIR / CONTRACT).is_file():
        return BundleChoice(SHIPPED_MODEL_DIR, True, "the shipped bundle (models/)")
    return BundleChoice(fallback_bundle(), False,
                        "STAND-IN: models/ has no bundle; EfficientNet-Lite0 at 192 px with a random head "
                        "(tests/bundle_factory.py) - same architecture and cost, meaningless predictions")


def fallback_bundle() -> Path:
    """Build the stand-in once (needs TensorFlow, ~30 s) and reuse it."""
    if (FALLBACK_BUNDLE_DIR / CONTRACT).is_file():
        return FALLBACK_BUNDLE_DIR
    from tests.bundle_factory import make_bundle

    building = Path(tempfile.mkdtemp(prefix="skin-cancer-bench-bundle-"))
    make_bundle(building, image_size=192)
    building.rename(FALLBACK_BUNDLE_DIR)  # atomic: a half-built bundle is never picked up
    return FALLBACK_BUNDLE_DIR


def image_size_of(bundle: Path) -> int:
    return int(json.loads((bundle / CONTRACT).read_text())["input"]["image_size"])


# --------------------------------------------------------------------------- inputs


def sample_jpeg(width: int = 600, height: int = 450, quality: int = 90) -> bytes:
    """A dermatoscope-sized JPEG: a real HAM10000 image resized to width x height, else a synthetic lesion."""
    from PIL import Image

    real = sorted(HAM10000_IMAGES.glob("*.jpg"))[:1] if HAM10000_IMAGES.is_dir() else []
    if real:
        image = Image.open(real[0]).convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    else:
        image = Image.fromarray(synthetic_lesion(width, height))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def synthetic_lesion(width: int, height: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    blob = np.exp(-(yy**2 + xx**2) / 0.3)[..., None]
    pixels = np.array([200, 160, 140]) * (1 - blob) + np.array([80, 50, 40]) * blob
    return np.clip(pixels + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- statistics


def summarise_ms(samples_ms: list[float]) -> dict:
    """p50/p95/p99 (ms) of a latency sample; percentiles of fewer than ~100 samples are rough."""
    if not samples_ms:
        return {"n": 0}
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"n": len(values), "mean_ms": round(float(values.mean()), 2), "p50_ms": round(float(p50), 2),
            "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2),
            "min_ms": round(float(values.min()), 2), "max_ms": round(float(values.max()), 2)}


def time_calls(call: Callable[[], object], *, iterations: int, time_limit_s: float, warmup: int = 3) -> dict:
    """Latency of `call` repeated up to `iterations` times or `time_limit_s` seconds, whichever comes first."""
    for _ in range(warmup):  # first calls allocate, trace and fill caches
        call()
    samples: list[float] = []
    started = time.perf_counter()
    deadline = started + time_limit_s
    while len(samples) < iterations and time.perf_counter() < deadline:
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    elapsed = time.perf_counter() - started
    return {**summarise_ms(samples), "throughput_per_s": round(len(samples) / elapsed, 2)}


def load_keras_model(bundle: Path):
    """The bundle's Keras model (imports TensorFlow: the dev extra)."""
    from contract.schema import BundleFiles
    from training.model.classifier import load_classifier

    return load_classifier(bundle / BundleFiles.KERAS_MODEL)


def seed_model_predict(classifier, batch: np.ndarray) -> Callable[[], object]:
    """The seed's way to serve: Keras `model.predict` on one request's batch (it builds a data pipeline per call)."""
    return lambda: classifier.predict(batch, verbose=0)


# --------------------------------------------------------------------------- the machine


def package_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """What the numbers were measured on; a 1-minute load average well above 0 means they are suspect."""
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tensorflow": package_version("tensorflow-cpu", "tensorflow"),
        "keras": package_version("keras"),
        "ai_edge_litert": package_version("ai-edge-litert"),
        "numpy": package_version("numpy"),
        "pillow": package_version("pillow"),
        "fastapi": package_version("fastapi"),
        "uvicorn": package_version("uvicorn"),
        "httpx": package_version("httpx"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: Path, payload: dict) -> None:
    """Written atomically: a benchmark stopped mid-write leaves the previous result whole. Keys keep the order the
    benchmark gave them, which the report and a reader of the file follow."""
    write_bytes_atomically(path, (json.dumps(payload, indent=2) + "\n").encode())
    print(f"wrote {path}")


def results_path(name: str, quick: bool, given: Path | None) -> Path:
    """Full runs land in bench/results/ (kept in the repo); quick runs in a temp dir, never over them."""
    if given is not None:
        return given
    return (QUICK_RESULTS_DIR if quick else RESULTS_DIR) / f"{name}.json"


# --------------------------------------------------------------------------- /proc readings of a process


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) in bytes and Threads of a live process."""
    readings: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            readings[key] = int(value.split()[0]) * 1024
        elif key == "Threads":
            readings[key] = int(value)
    return readings


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mapped_libraries(pid: int, needle: str) -> list[str]:
    """Shared objects mapped into the process whose path contains `needle` (e.g. TensorFlow's)."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and needle in parts[5] and ".so" in parts[5]:
            found.add(Path(parts[5]).name)
    return sorted(found)


class RssSampler:
    """Polls a process's RSS in a thread: the peak seen between start() and stop()."""

    def __init__(self, pid: int, interval_s: float = 0.05):
        self.pid, self.interval_s = pid, interval_s
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, proc_status(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return  # the process ended
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- a uvicorn subprocess


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment minus any service setting a developer exported, plus `settings`."""
    from service.core.config import Settings

    env = {key: value for key, value in os.environ.items() if key.lower() not in Settings.model_fields}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(settings)
    return env


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    port: int
    log_path: Path
    spawned_at: float  # time.perf_counter() just before the process was started
    alive_after_s: float | None = None  # first /healthz 200
    ready_after_s: float | None = None  # first /readyz 200
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self) -> dict[str, int]:
        return proc_status(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until_ready(self, timeout_s: float = 180.0) -> None:
        """Poll /healthz then /readyz (every 20 ms: close to the true time without stealing a core)."""
        import httpx

        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if self.alive_after_s is None and client.get("/healthz").status_code == 200:
                        self.alive_after_s = time.perf_counter() - self.spawned_at
                    if self.alive_after_s is not None and client.get("/readyz").status_code == 200:
                        self.ready_after_s = time.perf_counter() - self.spawned_at
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.02)
        raise TimeoutError(f"the server was not ready within {timeout_s} s:\n{self.log_tail()}")


def split_rows(bundle: Path, split: str, limit: int | None = None):
    """The bundle's `split` rows of its split manifest (image_id, lesion_id, dx, label, split), by image id; with
    `limit`, the first limit // 2 (at least one) of each binary class, cancerous first, so a sample keeps both."""
    import pandas as pd

    from contract.schema import BundleFiles

    manifest = pd.read_csv(bundle / BundleFiles.SPLIT_MANIFEST, dtype={"image_id": str})
    rows = manifest[manifest["split"] == split].sort_values("image_id")
    if limit is not None:
        half = max(1, limit // 2)
        rows = pd.concat([rows[rows["label"] == 1].head(half), rows[rows["label"] == 0].head(half)])
    return rows.reset_index(drop=True)


def ham_image(image_id: str) -> bytes:
    return (HAM10000_IMAGES / f"{image_id}.jpg").read_bytes()


@contextmanager
def running_server(model_dir: Path, log_path: Path, *, wait_ready: bool = True, ready_timeout_s: float = 180.0,
                   app: str = "service.main:app", **settings: str) -> Iterator[Server]:
    """`python -m uvicorn service.main:app` (or another `app`) on a free loopback port for the length of the
    block."""
    port = free_port()
    env = clean_environment({"MODEL_DIR": str(model_dir), "LOG_LEVEL": "WARNING", **settings})
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        spawned_at = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", port, log_path, spawned_at)
    try:
        if wait_ready:
            server.wait_until_ready(ready_timeout_s)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it does not end in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def mib(n_bytes: int | float | None) -> float | None:
    return None if n_bytes is None else round(n_bytes / 1024**2, 1)
