"""End to end over HTTP (loopback only): a uvicorn subprocess serving the bundle, /predict and /gradcam with a
600x450 JPEG at 1 and 8/16/32 concurrent clients (httpx async).

    python -m bench.http_e2e [--model-dir models] [--concurrency 1,8,16,32] [--requests 500] [--time-limit 60]
                             [--quick] [--json PATH]

Every level is bounded by a request count and a time limit. The load generator shares the two cores
with the server, so the server's own numbers are somewhat better than these.
Goals (2 cores):
- /predict p50 at one client <= 1.5x raw LiteRT inference (rounds of both interleaved in one run). Each round
  also times what lies beneath /predict: decoding the image, and a bare FastAPI upload endpoint
  (bench/floor_app.py) served the same way. Their sum with raw LiteRT is the floor: the best ratio this machine
  and client allow.
- /predict throughput at the best concurrency level >= 10x the seed's model.predict per image (rounds of both
  interleaved; the seed runs in this process, which loads TensorFlow).
- /gradcam p50 <= 1.5x /predict p50 at one client; 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from bench import floor_app
from bench.common import (
    RssSampler,
    choose_bundle,
    load_keras_model,
    machine_info,
    mib,
    process_cpu_seconds,
    results_path,
    running_server,
    sample_jpeg,
    seed_model_predict,
    summarise_ms,
    time_calls,
    write_json,
)
from contract.preprocessing import prepare_image, preprocess_image
from contract.schema import BundleFiles
from contract.schema import LiteRTSignature as Sig

ENDPOINTS = ("/predict", "/gradcam")
REQUEST_TIMEOUT_S = 60.0


async def one_level(base_url: str, path: str, jpeg: bytes, *, clients: int, requests: int,
                    time_limit_s: float) -> dict:
    """`clients` workers post the image back to back until `requests` are done or time runs out."""
    latencies: list[float] = []
    server_timing: list[dict] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    issued = 0
    deadline = time.perf_counter() + time_limit_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        async def worker() -> None:
            nonlocal issued
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                began = time.perf_counter()
                try:
                    response = await client.post(path, files={"file": ("lesion.jpg", jpeg, "image/jpeg")})
                except httpx.HTTPError as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    continue
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
                if response.status_code == 200:
                    server_timing.append(response.json()["timing"])

        started, client_cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
    non_200 = sum(count for status, count in statuses.items() if status != "200")
    return {**summarise_ms(latencies), "clients": clients, "requests": issued,
            "requests_per_s": round(statuses.get("200", 0) / elapsed, 2), "statuses": statuses,
            "errors": non_200 + sum(errors.values()), "transport_errors": errors,
            "stopped_by_time_limit": issued < requests,
            # The load generator runs on the same two cores: what it burns, the server does not get.
            "client_cpu_ms_per_request": round(client_cpu * 1000 / max(issued, 1), 2),
            "server_timing_p50_ms": timing_p50(server_timing)}


def timing_p50(timings: list[dict]) -> dict:
    """Median of each step the server reports in its `timing` field (total_ms: arrival to response)."""
    steps = ("preprocess_ms", "inference_ms", "heatmap_ms", "total_ms")
    return {step: round(float(np.median([t[step] for t in timings])), 2)
            for step in steps if timings and timings[0].get(step) is not None}


def lean_client_p50(base_url: str, path: str, jpeg: bytes, requests: int = 100, time_limit_s: float = 20.0) -> dict:
    """One client on a stdlib keep-alive connection with a pre-built body: the least client overhead."""
    boundary = "benchboundary7e3c"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="lesion.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + jpeg + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)

    def call() -> None:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")

    try:
        return time_calls(call, iterations=requests, time_limit_s=time_limit_s, warmup=3)
    finally:
        connection.close()


def raw_litert_runner(bundle: Path, jpeg: bytes, size: int):
    """One raw LiteRT call of the forward-only signature (what /predict runs), on the benchmark image."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(bundle / BundleFiles.LITERT_MODEL), num_threads=2)
    runner = interpreter.get_signature_runner(Sig.PREDICT)
    batch = preprocess_image(jpeg, size)[None].astype(np.float32)
    return lambda: runner(**{Sig.IMAGES: batch})


class EndpointPoster:
    """POSTs the benchmark image to one endpoint over a shared keep-alive client, counting failed requests."""

    def __init__(self, client: httpx.Client, path: str, jpeg: bytes):
        self.client, self.path, self.jpeg = client, path, jpeg
        self.failures = 0

    def __call__(self) -> None:
        try:
            response = self.client.post(self.path, files={"file": ("lesion.jpg", self.jpeg, "image/jpeg")})
            self.failures += response.status_code != 200
        except httpx.HTTPError:
            self.failures += 1


Side = tuple[str, Callable[[], object]]


def interleaved_ratio(numerator: Side, denominator: Side, rounds: int = 6, calls: int = 100,
                      beside: tuple[Side, ...] = ()) -> dict:
    """A latency goal's ratio, side by side: each round times `calls` calls of the denominator, then of each side
    `beside` (recorded, not in the ratio), then of the numerator, and the ratio is the median of the rounds' p50
    ratios. Each side is (name, call). This VM's speed drifts by tens of percent within minutes, so a denominator
    measured once, at another moment, would move the ratio more than the service does. A side that counts
    failures (EndpointPoster) adds them to failed_requests (the ratio's two sides) or beside_failed_requests."""
    sides = (denominator, *beside, numerator)
    rows = []
    for _ in range(rounds):
        row = {f"{name}_p50_ms": time_calls(call, iterations=calls, time_limit_s=20.0, warmup=5)["p50_ms"]
               for name, call in sides}
        rows.append({**row, "ratio": row[f"{numerator[0]}_p50_ms"] / row[f"{denominator[0]}_p50_ms"]})
    return {"rounds": rows, "calls_per_round": calls, "failed_requests": _failures((numerator, denominator)),
            "beside_failed_requests": _failures(beside), "median_ratio": median_then_round(rows, digits=3)}


def _failures(sides: tuple[Side, ...]) -> int:
    return sum(getattr(call, "failures", 0) for _, call in sides)


# The sides beneath /predict: what any service of its kind pays (model, image, HTTP), timed in the goal's rounds.
RAW_LITERT, DECODE, BARE_UPLOAD = "litert_raw", "decode", "bare_upload"
FLOOR_SIDES = (RAW_LITERT, DECODE, BARE_UPLOAD)


def floor_beneath(measured: dict, above: str = "predict") -> dict:
    """Per round of interleaved_ratio(/predict, raw LiteRT, beside=(decode, bare upload)): the floor (the sum of
    the three, what /predict would cost if the service added nothing of its own), the floor's ratio to raw
    LiteRT (`ratio`: the best this machine and client allow), and how far /predict is above the floor; with the
    medians over rounds."""
    rows = []
    for row in measured["rounds"]:
        floor_ms = sum(row[f"{side}_p50_ms"] for side in FLOOR_SIDES)
        rows.append({"floor_ms": round(floor_ms, 3), "ratio": floor_ms / row[f"{RAW_LITERT}_p50_ms"],
                     "above_floor_ms": round(row[f"{above}_p50_ms"] - floor_ms, 3)})
    return {"rounds": rows, "sides": list(FLOOR_SIDES),
            "median_above_floor_ms": round(float(np.median([row["above_floor_ms"] for row in rows])), 3),
            "median_floor_ratio": median_then_round(rows, digits=3)}


def interleaved_throughput(base_url: str, jpeg: bytes, clients: int, seed_call: Callable[[], object],
                           rounds: int, requests: int) -> dict:
    """The throughput goal side by side: each round times the seed's model.predict in this process (the server
    idle), then /predict at `clients` concurrent clients (this process idle but for the load generator); the
    ratio is the median of the rounds' req/s over img/s. A seed rate read from another run would drift with the
    VM's speed by more than the margin the goal is judged on."""
    rows, failures = [], 0
    for _ in range(rounds):
        seed_rate = time_calls(seed_call, iterations=max(requests // 8, 10), time_limit_s=30.0)["throughput_per_s"]
        level = asyncio.run(one_level(base_url, "/predict", jpeg, clients=clients, requests=requests,
                                      time_limit_s=30.0))
        failures += level["errors"]
        rows.append({"seed_model_predict_per_s": seed_rate, "predict_requests_per_s": level["requests_per_s"],
                     "ratio": level["requests_per_s"] / seed_rate})
    return {"rounds": rows, "clients": clients, "requests_per_round": requests, "failed_requests": failures,
            "median_ratio": median_then_round(rows, digits=2)}


def median_then_round(rows: list[dict], digits: int) -> float:
    """The median of the rounds' ratios, unrounded (a goal of 1.5 must not pass on a 1.504 rounded down); each
    round's own ratio is rounded to `digits` for the report."""
    median = float(np.median([row["ratio"] for row in rows]))
    for row in rows:
        row["ratio"] = round(row["ratio"], digits)
    return median


def goals(levels: dict, litert: dict, server_info: dict) -> dict:
    lean = server_info["one_client_stdlib_http_client"]
    predict_1 = levels["/predict"].get("1", {})
    gradcam_1 = levels["/gradcam"].get("1", {})
    best_rate = max((row.get("requests_per_s", 0) for row in levels["/predict"].values()), default=0)
    side_by_side = ("predict_vs_litert_interleaved", "gradcam_vs_predict_interleaved",
                    "predict_vs_seed_throughput_interleaved")
    errors = (sum(row["errors"] for rows in levels.values() for row in rows.values())
              + sum(server_info[name]["failed_requests"] for name in side_by_side))
    result = {
        # the goal's measure: rounds of raw LiteRT and /predict interleaved in one run (see interleaved_ratio)
        "predict_p50_over_litert_p50_interleaved": server_info["predict_vs_litert_interleaved"]["median_ratio"],
        # beneath it, from the same rounds: the least this ratio can be here, and /predict's own cost above that
        "floor_p50_over_litert_p50_interleaved": server_info["predict_floor"]["median_floor_ratio"],
        "predict_above_floor_ms_interleaved": server_info["predict_floor"]["median_above_floor_ms"],
        "predict_p50_over_litert_p50": ratio(predict_1.get("p50_ms"), litert.get("p50_ms")),
        "predict_p50_over_litert_p50_stdlib_client": ratio(lean["/predict"].get("p50_ms"), litert.get("p50_ms")),
        "gradcam_p50_over_predict_p50_stdlib_client": ratio(lean["/gradcam"].get("p50_ms"),
                                                            lean["/predict"].get("p50_ms")),
        "predict_best_rps": best_rate,
        # the goal's measure: rounds of the seed's model.predict and /predict interleaved in one run
        "predict_rps_over_seed_interleaved": server_info["predict_vs_seed_throughput_interleaved"]["median_ratio"],
        # Supplementary, not the goal: the rate the server's own CPU cost allows once the load generator
        # no longer shares its cores (cores x 1000 / server CPU ms per request).
        "predict_server_only_capacity_per_s": max(
            (row.get("server_only_capacity_per_s", 0) for row in levels["/predict"].values()), default=0),
        # the goal's measure, as above: rounds of /predict and /gradcam interleaved over one client
        "gradcam_p50_over_predict_p50_interleaved": server_info["gradcam_vs_predict_interleaved"]["median_ratio"],
        "gradcam_p50_over_predict_p50": ratio(gradcam_1.get("p50_ms"), predict_1.get("p50_ms")),
        "errors": errors,
    }
    result["met"] = {
        "predict_p50_le_1.5x_litert": at_most(result["predict_p50_over_litert_p50_interleaved"], 1.5),
        "predict_rps_ge_10x_seed": result["predict_rps_over_seed_interleaved"] >= 10,
        "gradcam_p50_le_1.5x_predict": at_most(result["gradcam_p50_over_predict_p50_interleaved"], 1.5),
        "zero_errors": errors == 0,
    }
    return result


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def run(bundle, jpeg: bytes, concurrency: list[int], requests: int, time_limit_s: float,
        log_path: Path, settings: dict[str, str], raw_call, decode_call, seed_call,
        rounds: int = 6) -> tuple[dict, dict]:
    levels: dict[str, dict[str, dict]] = {path: {} for path in ENDPOINTS}
    floor_log = log_path.with_name(log_path.stem + "-floor.log")
    with (running_server(bundle.path, log_path, **settings) as server,
          running_server(bundle.path, floor_log, app="bench.floor_app:app") as floor):
        for path in ENDPOINTS:  # warm-up: first requests pay for lazy imports and allocations
            asyncio.run(one_level(server.base_url, path, jpeg, clients=1, requests=5, time_limit_s=30))
        for path in ENDPOINTS:
            for clients in concurrency:
                count = max(requests, 10 * clients)  # enough that every client sends several
                cpu_before = process_cpu_seconds(server.pid)
                with RssSampler(server.pid) as sampler:
                    row = asyncio.run(one_level(server.base_url, path, jpeg, clients=clients, requests=count,
                                                time_limit_s=time_limit_s))
                row["server_peak_rss_mib_during"] = mib(sampler.peak_rss)
                # What the server alone burns per request: with the cores to itself (no load generator
                # beside it) it could serve about cores / this many requests per second.
                server_cpu_ms = (process_cpu_seconds(server.pid) - cpu_before) * 1000 / max(row["requests"], 1)
                row["server_cpu_ms_per_request"] = round(server_cpu_ms, 2)
                row["server_cores"] = len(os.sched_getaffinity(server.pid))
                row["server_only_capacity_per_s"] = (
                    round(row["server_cores"] * 1000 / server_cpu_ms, 1) if server_cpu_ms > 0 else None)
                levels[path][str(clients)] = row
                print(f"{path:9} {clients:3} clients: p50 {row.get('p50_ms')} ms, p95 {row.get('p95_ms')}, "
                      f"p99 {row.get('p99_ms')}, {row['requests_per_s']} req/s, errors {row['errors']}, "
                      f"peak RSS {row['server_peak_rss_mib_during']} MiB, server CPU "
                      f"{row['server_cpu_ms_per_request']} ms/request", flush=True)
        lean = {path: lean_client_p50(server.base_url, path, jpeg) for path in ENDPOINTS}
        for path, row in lean.items():
            print(f"{path:9}   1 client (stdlib http.client): p50 {row['p50_ms']} ms", flush=True)
        with (httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client,
              httpx.Client(base_url=floor.base_url, timeout=REQUEST_TIMEOUT_S) as floor_client):
            def poster(path: str) -> tuple[str, EndpointPoster]:  # a fresh one per ratio: its own failure count
                return path.strip("/"), EndpointPoster(client, path, jpeg)
            # raw LiteRT and decoding run in this process while both servers are idle
            beneath = ((DECODE, decode_call), (BARE_UPLOAD, EndpointPoster(floor_client, floor_app.UPLOAD_PATH, jpeg)))
            side_by_side = interleaved_ratio(poster("/predict"), (RAW_LITERT, raw_call), rounds=rounds,
                                             beside=beneath)
            explained = interleaved_ratio(poster("/gradcam"), poster("/predict"), rounds=rounds)
        best_clients = max(levels["/predict"].values(), key=lambda row: row.get("requests_per_s", 0))["clients"]
        throughput = interleaved_throughput(server.base_url, jpeg, best_clients, seed_call, rounds=max(rounds // 2, 2),
                                            requests=requests)
        for name, measured in (("/predict p50 / raw LiteRT p50", side_by_side),
                               ("/gradcam p50 / /predict p50", explained),
                               (f"/predict req/s at {best_clients} clients / seed img/s", throughput)):
            print(f"{name}, rounds interleaved: {[r['ratio'] for r in measured['rounds']]}, "
                  f"median {measured['median_ratio']}", flush=True)
        floor_info = floor_beneath(side_by_side)
        print(f"floor beneath /predict (raw LiteRT + decode + bare upload) / raw LiteRT: "
              f"{[r['ratio'] for r in floor_info['rounds']]}; /predict above it: "
              f"{[r['above_floor_ms'] for r in floor_info['rounds']]} ms", flush=True)
        status = server.status()
        server_info = {"pid": server.pid, "ready_after_s": round(server.ready_after_s, 2),
                       "peak_rss_mib": mib(status["VmHWM"]), "rss_mib_at_end": mib(status["VmRSS"]),
                       "threads_at_end": status["Threads"],
                       "settings": settings or "defaults (ENGINE=auto: LiteRT, INFERENCE_THREADS=2, "
                                               "INFERENCE_CONCURRENCY=2)"}
    server_info["one_client_stdlib_http_client"] = lean
    server_info["predict_vs_litert_interleaved"] = side_by_side
    server_info["predict_floor"] = floor_info
    server_info["gradcam_vs_predict_interleaved"] = explained
    server_info["predict_vs_seed_throughput_interleaved"] = throughput
    return levels, server_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--concurrency", default="1,8,16,32")
    parser.add_argument("--requests", type=int, default=500, help="requests per level (at least 10 per client)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per level (at most)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting for the server, e.g. INFERENCE_THREADS=1 (repeatable)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.server_env)
    if args.quick:
        args.concurrency, args.requests, args.time_limit = "1,8", 30, 15.0
    concurrency = [int(c) for c in args.concurrency.split(",")]
    bundle = choose_bundle(args.model_dir)
    machine = machine_info()
    description = bundle.describe()
    jpeg = sample_jpeg()
    raw_call = raw_litert_runner(bundle.path, jpeg, description["image_size"])
    decode_call = functools.partial(prepare_image, jpeg, description["image_size"])  # what /predict decodes
    litert = time_calls(raw_call, iterations=200, time_limit_s=10.0, warmup=5)
    batch = preprocess_image(jpeg, description["image_size"])[None].astype(np.float32)
    seed_call = seed_model_predict(load_keras_model(bundle.path), batch)  # TensorFlow in this process
    print(f"bundle: {bundle.note}; raw LiteRT p50 {litert['p50_ms']} ms")
    log_path = Path(tempfile.gettempdir()) / "skin-cancer-bench-http-server.log"
    levels, server_info = run(bundle, jpeg, concurrency, args.requests, args.time_limit, log_path, settings,
                              raw_call, decode_call, seed_call, rounds=2 if args.quick else 6)
    outcome = goals(levels, litert, server_info)
    print(json.dumps(outcome, indent=2))
    payload = {"benchmark": "http_e2e", "quick": args.quick, "machine": machine, "bundle": description,
               "image": {"format": "JPEG", "size": "600x450", "bytes": len(jpeg)},
               "litert_raw_in_process": litert, "server": server_info,
               "levels": levels, "goals": outcome}
    write_json(results_path("http_e2e", args.quick, args.json), payload)


if __name__ == "__main__":
    main()
