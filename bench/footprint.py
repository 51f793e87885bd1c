"""Cold start, steady RSS and installed size of the serving environment: lean LiteRT vs TensorFlow (ENGINE=keras).

    python -m bench.footprint [--model-dir models] [--repeats 3] [--quick] [--json PATH]

Cold start: process spawn → first /healthz 200 (alive) → first /readyz 200 (loaded + warmed up), polled every
20 ms. Steady RSS: after 30 /predict + 10 /gradcam requests. Installed size: the summed files of every
installed distribution in the dependency closure of pyproject's lean `dependencies`, then with the
TensorFlow and keras requirements of the `train` extra added (what ENGINE=keras needs) and with the whole
`train` extra, read from this environment's metadata (importlib.metadata); the interpreter itself is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.common import (
    REPO_ROOT,
    choose_bundle,
    machine_info,
    mapped_libraries,
    mib,
    results_path,
    running_server,
    sample_jpeg,
    write_json,
)

ENGINES = {"litert": {"ENGINE": "litert"}, "keras": {"ENGINE": "keras"}}
TENSORFLOW_NAMES = {"tensorflow", "tensorflow-cpu", "keras"}


# --------------------------------------------------------------------------- a running server


def steady_state(base_url: str, jpeg: bytes) -> None:
    """Traffic that touches every code path a request uses, so lazy imports and buffers are in RSS."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for index in range(40):
            path = "/gradcam" if index % 4 == 3 else "/predict"
            response = client.post(path, files={"file": ("lesion.jpg", jpeg, "image/jpeg")})
            response.raise_for_status()
    time.sleep(1.0)  # let worker threads go idle before reading RSS


def measure_engine(bundle: Path, engine: str, repeats: int, jpeg: bytes) -> dict:
    runs = []
    for repeat in range(repeats):
        log_path = Path(tempfile.gettempdir()) / f"skin-cancer-bench-footprint-{engine}.log"
        with running_server(bundle, log_path, **ENGINES[engine]) as server:
            run = {"alive_s": round(server.alive_after_s, 2), "ready_s": round(server.ready_after_s, 2),
                   "rss_mib_ready": mib(server.status()["VmRSS"])}
            if repeat == repeats - 1:  # steady state once: it does not depend on the start
                steady_state(server.base_url, jpeg)
                status = server.status()
                run.update(rss_mib_steady=mib(status["VmRSS"]), peak_rss_mib=mib(status["VmHWM"]),
                           threads=status["Threads"],
                           tensorflow_libraries_mapped=mapped_libraries(server.pid, "tensorflow"))
            runs.append(run)
    last = runs[-1]
    return {
        "cold_start_ready_s_median": round(statistics.median(r["ready_s"] for r in runs), 2),
        "cold_start_alive_s_median": round(statistics.median(r["alive_s"] for r in runs), 2),
        "rss_mib_when_ready": last["rss_mib_ready"], "rss_mib_steady": last["rss_mib_steady"],
        "peak_rss_mib": last["peak_rss_mib"], "threads_steady": last["threads"],
        "tensorflow_libraries_mapped": len(last["tensorflow_libraries_mapped"]), "runs": runs,
    }


# --------------------------------------------------------------------------- installed size


def project_requirements() -> tuple[list[str], list[str]]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]["train"]


def closure(roots: list[str]) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """Every installed distribution the requirement strings pull in (markers and extras evaluated here)."""
    found: dict[str, metadata.Distribution] = {}
    missing: list[str] = []
    pending = [(Requirement(text), "") for text in roots]
    while pending:
        requirement, parent_extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": parent_extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in found:
            continue
        found[key] = distribution
        for text in distribution.requires or []:
            child = Requirement(text)
            for extra in sorted(requirement.extras) or [""]:
                pending.append((child, extra))
    by_name = {canonicalize_name(d.metadata["Name"]): d for d in found.values()}
    return by_name, sorted(set(missing))


def installed_bytes(distribution: metadata.Distribution) -> int:
    total = 0
    for entry in distribution.files or []:
        path = Path(distribution.locate_file(entry))
        if path.is_file():
            total += path.stat().st_size
    return total


def environment_size(roots: list[str]) -> dict:
    distributions, missing = closure(roots)
    sizes = {name: installed_bytes(dist) for name, dist in distributions.items()}
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:8]
    return {"distributions": len(sizes), "installed_mib": mib(sum(sizes.values())),
            "largest_mib": {name: mib(size) for name, size in largest}, "not_installed": missing}


def installed_sizes() -> dict:
    lean, train = project_requirements()
    tensorflow = [text for text in train if canonicalize_name(Requirement(text).name) in TENSORFLOW_NAMES]
    return {
        "lean (pyproject dependencies: LiteRT serving)": environment_size(lean),
        "lean + tensorflow + keras (ENGINE=keras)": environment_size(lean + tensorflow),
        "lean + whole train extra": environment_size(lean + train),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--repeats", type=int, default=3, help="cold starts per engine (median reported)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    bundle = choose_bundle(args.model_dir)
    machine = machine_info()
    jpeg = sample_jpeg()
    engines = {}
    for engine in ENGINES:
        engines[engine] = measure_engine(bundle.path, engine, args.repeats, jpeg)
        row = engines[engine]
        print(f"{engine:7} ready in {row['cold_start_ready_s_median']} s (alive {row['cold_start_alive_s_median']} s),"
              f" RSS steady {row['rss_mib_steady']} MiB, peak {row['peak_rss_mib']} MiB, "
              f"TensorFlow libraries mapped: {row['tensorflow_libraries_mapped']}", flush=True)
    sizes = installed_sizes()
    for name, size in sizes.items():
        print(f"installed: {name}: {size['installed_mib']} MiB in {size['distributions']} distributions")
    payload = {"benchmark": "footprint", "quick": args.quick, "machine": machine, "bundle": bundle.describe(),
               "engines": engines, "installed_size": sizes,
               "method": {"cold_start": "spawn → /readyz 200, polled every 20 ms; median of repeats",
                          "installed_size": "sum of RECORD-listed files of the dependency closure "
                                            "(importlib.metadata), this environment"}}
    write_json(results_path("footprint", args.quick, args.json), payload)


if __name__ == "__main__":
    main()
