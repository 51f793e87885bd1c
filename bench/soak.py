"""Bounded load/soak run over loopback HTTP, mixing valid and hostile requests.

    python -m bench.soak [--requests 10000] [--concurrency 8] [--time-limit 900] [--model-dir models] [--quick]

Starts its own uvicorn subprocess (with MAX_UPLOAD_BYTES=1 MiB, so "oversize" bodies stay cheap; the code
path is the same at any cap) and sends a fixed rotation of request kinds: valid images to /predict,
/gradcam and /predict/batch, an empty file, text, a truncated JPEG, a PPM (unsupported format), a pixel
bomb, an oversize body, malformed multipart, bad JSON and wrong-shape JSON to /predict-url, SSRF URLs
(loopback, link-local metadata, decimal-encoded loopback), an unknown route, a wrong method, and the
operations endpoints. Goals: zero 5xx, zero dropped connections, every answer the expected status, all
requests done within the time limit, and server RSS growth < 10 % from the end of warm-up to the end.
Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import choose_bundle, machine_info, mib, results_path, running_server, sample_jpeg, write_json

UPLOAD_CAP = 1024 * 1024  # the soak server's MAX_UPLOAD_BYTES
RSS_GROWTH_LIMIT = 0.10
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Kind:
    """One kind of request: how to send it and which statuses are correct answers."""

    name: str
    method: str
    path: str
    expected: frozenset[int]
    weight: int
    files: list | None = None
    content: bytes | None = None
    headers: dict | None = None
    json_body: object = None


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height: a decompression bomb refused before decoding."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def ppm_image() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (120, 80, 60)).save(buffer, format="PPM")
    return buffer.getvalue()


def request_kinds(jpeg: bytes, server_port: int) -> list[Kind]:
    def upload(data: bytes, name: str = "lesion.jpg", media: str = "image/jpeg") -> list:
        return [("file", (name, data, media))]

    ok, invalid = frozenset({200}), frozenset({422})
    return [
        Kind("predict_valid", "POST", "/predict", ok, 24, files=upload(jpeg)),
        Kind("gradcam_valid", "POST", "/gradcam", ok, 6, files=upload(jpeg)),
        Kind("batch_mixed", "POST", "/predict/batch", ok, 3,
             files=[("files", ("a.jpg", jpeg, "image/jpeg")), ("files", ("b.txt", b"not an image", "text/plain"))]),
        Kind("empty_file", "POST", "/predict", invalid, 6, files=upload(b"", "empty.jpg")),
        Kind("text_file", "POST", "/predict", invalid, 6, files=upload(b"hello, not an image\n" * 20, "a.txt",
                                                                       "text/plain")),
        Kind("truncated_jpeg", "POST", "/predict", invalid, 6, files=upload(jpeg[: len(jpeg) // 3])),
        Kind("unsupported_format", "POST", "/predict", frozenset({415}), 3, files=upload(ppm_image(), "a.ppm")),
        Kind("pixel_bomb", "POST", "/predict", frozenset({413}), 3, files=upload(png_claiming(30000, 30000),
                                                                                  "bomb.png", "image/png")),
        Kind("oversize_upload", "POST", "/predict", frozenset({413}), 3,
             files=upload(b"\xff" * (UPLOAD_CAP + 128 * 1024), "big.jpg")),
        Kind("malformed_multipart", "POST", "/predict", frozenset({400, 422}), 3,
             content=b"--x\r\nnot a part\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"}),
        Kind("bad_json", "POST", "/predict-url", invalid, 6, content=b'{"url": "https://exa',
             headers={"Content-Type": "application/json"}),
        Kind("wrong_json_shape", "POST", "/predict-url", invalid, 3, json_body={"uri": 42}),
        Kind("ssrf_loopback", "POST", "/predict-url", frozenset({400}), 4,
             json_body={"url": f"http://127.0.0.1:{server_port}/metrics"}),
        Kind("ssrf_metadata", "POST", "/predict-url", frozenset({400}), 2,
             json_body={"url": "http://169.254.169.254/latest/meta-data/"}),
        Kind("ssrf_decimal_loopback", "POST", "/predict-url", frozenset({400}), 2,
             json_body={"url": f"http://2130706433:{server_port}/healthz"}),
        Kind("unknown_route", "GET", "/no/such/route", frozenset({404}), 4),
        Kind("wrong_method", "GET", "/predict", frozenset({405}), 2),
        Kind("healthz", "GET", "/healthz", ok, 2),
        Kind("readyz", "GET", "/readyz", ok, 2),
        Kind("model_info", "GET", "/v1/model", ok, 2),
        Kind("metrics", "GET", "/metrics", ok, 1),
    ]


def schedule(kinds: list[Kind]) -> list[Kind]:
    """One deterministic rotation in which each kind appears `weight` times, interleaved."""
    rotation: list[Kind] = []
    for round_index in range(max(kind.weight for kind in kinds)):
        rotation.extend(kind for kind in kinds if kind.weight > round_index)
    return rotation


async def send(client: httpx.AsyncClient, kind: Kind) -> httpx.Response:
    return await client.request(kind.method, kind.path, files=kind.files, content=kind.content,
                                headers=kind.headers, json=kind.json_body)


@dataclass
class Tally:
    statuses: Counter
    unexpected: Counter  # "kind:status"
    dropped: Counter  # exception name
    server_errors: int = 0
    done: int = 0


async def drive(base_url: str, rotation: list[Kind], requests: int, concurrency: int, deadline: float,
                tally: Tally, on_progress) -> None:
    """`concurrency` workers walk the rotation until `requests` were sent or the deadline passed."""
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        async def worker() -> None:
            nonlocal issued
            while issued < requests and time.monotonic() < deadline:
                kind = rotation[issued % len(rotation)]
                issued += 1
                try:
                    response = await send(client, kind)
                except httpx.HTTPError as error:  # reset, refused, truncated answer, timeout: all "dropped"
                    tally.dropped[f"{kind.name}:{type(error).__name__}"] += 1
                else:
                    tally.statuses[response.status_code] += 1
                    tally.server_errors += response.status_code >= 500
                    if response.status_code not in kind.expected:
                        tally.unexpected[f"{kind.name}:{response.status_code}"] += 1
                tally.done += 1
                on_progress(tally.done)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def soak(base_url: str, pid: int | None, *, requests: int, concurrency: int, time_limit_s: float,
         port: int, jpeg: bytes, warmup: int | None = None, exclude: frozenset[str] = frozenset()) -> dict:
    """Run the soak against a live server (pid: for RSS/threads; None skips them) and judge it."""
    from bench.common import proc_status

    kinds = [kind for kind in request_kinds(jpeg, port) if kind.name not in exclude]
    rotation = schedule(kinds)
    warmup = warmup if warmup is not None else max(len(rotation), requests // 10)
    tally = Tally(Counter(), Counter(), Counter())
    samples: list[dict] = []
    every = max(1, requests // 20)

    def on_progress(done: int) -> None:
        if pid is not None and (done == warmup or done % every == 0):
            status = proc_status(pid)
            samples.append({"after": done, "rss_mib": mib(status["VmRSS"]), "threads": status["Threads"]})

    started = time.monotonic()
    asyncio.run(drive(base_url, rotation, requests, concurrency, started + time_limit_s, tally, on_progress))
    elapsed = time.monotonic() - started
    report = {"requests_planned": requests, "requests_done": tally.done, "concurrency": concurrency,
              "seconds": round(elapsed, 1), "requests_per_s": round(tally.done / elapsed, 1),
              "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
              "server_errors_5xx": tally.server_errors, "dropped_connections": sum(tally.dropped.values()),
              "dropped_by_kind": dict(tally.dropped), "unexpected_statuses": dict(tally.unexpected),
              "kinds": {kind.name: sorted(kind.expected) for kind in kinds}, "excluded_kinds": sorted(exclude),
              "warmup_requests": warmup, "samples": samples}
    if pid is not None:
        time.sleep(0.5)  # let in-flight buffers be released before the final reading
        final = proc_status(pid)
        at_warmup = next((s for s in samples if s["after"] >= warmup), None)
        report["rss_mib_after_warmup"] = at_warmup["rss_mib"] if at_warmup else None
        report["rss_mib_final"] = mib(final["VmRSS"])
        report["peak_rss_mib"] = mib(final["VmHWM"])
        report["threads_after_warmup"] = at_warmup["threads"] if at_warmup else None
        report["threads_final"] = final["Threads"]
        if at_warmup:
            report["rss_growth_after_warmup"] = round(report["rss_mib_final"] / at_warmup["rss_mib"] - 1, 4)
    report["goals"] = judge(report)
    return report


def judge(report: dict) -> dict[str, bool]:
    growth = report.get("rss_growth_after_warmup")
    return {
        "zero_5xx": report["server_errors_5xx"] == 0,
        "zero_dropped_connections": report["dropped_connections"] == 0,
        "only_expected_statuses": not report["unexpected_statuses"],
        "all_requests_done": report["requests_done"] >= report["requests_planned"],
        "rss_growth_below_10pct": growth is not None and growth < RSS_GROWTH_LIMIT,
    }


def soak_server(model_dir: Path, *, requests: int, concurrency: int, time_limit_s: float,
                log_path: Path | None = None, jpeg: bytes | None = None,
                exclude: frozenset[str] = frozenset()) -> dict:
    """Start a server on `model_dir`, soak it, stop it; the report includes the server's log tail on failure."""
    log_path = log_path or Path(tempfile.gettempdir()) / "skin-cancer-bench-soak-server.log"
    with running_server(model_dir, log_path, MAX_UPLOAD_BYTES=str(UPLOAD_CAP)) as server:
        report = soak(server.base_url, server.pid, requests=requests, concurrency=concurrency,
                      time_limit_s=time_limit_s, port=server.port, jpeg=jpeg or sample_jpeg(), exclude=exclude)
        report["server_alive_at_end"] = server.process.poll() is None
        report["goals"]["server_alive_at_end"] = report["server_alive_at_end"]
        if not all(report["goals"].values()):
            report["server_log_tail"] = server.log_tail(40)
    return report


def print_summary(report: dict) -> None:
    print(f"{report['requests_done']}/{report['requests_planned']} requests in {report['seconds']} s "
          f"({report['requests_per_s']}/s, {report['concurrency']} clients); statuses {report['statuses']}")
    print(f"5xx: {report['server_errors_5xx']}, dropped: {report['dropped_connections']} "
          f"{report['dropped_by_kind'] or ''}, unexpected: {report['unexpected_statuses'] or 'none'}")
    print(f"RSS after warm-up {report.get('rss_mib_after_warmup')} MiB → final {report.get('rss_mib_final')} MiB "
          f"(growth {report.get('rss_growth_after_warmup')}), peak {report.get('peak_rss_mib')} MiB; threads "
          f"{report.get('threads_after_warmup')} → {report.get('threads_final')}")
    for goal, met in report["goals"].items():
        print(f"  {'MET ' if met else 'MISS'} {goal}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds for the whole run (at most)")
    parser.add_argument("--exclude", action="append", default=[], metavar="KIND",
                        help="leave a request kind out of the rotation (repeatable), e.g. oversize_upload")
    parser.add_argument("--quick", action="store_true", help="300 requests, 120 s limit")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.requests, args.time_limit = 300, 120.0
    bundle = choose_bundle(args.model_dir)
    machine = machine_info()
    report = soak_server(bundle.path, requests=args.requests, concurrency=args.concurrency,
                         time_limit_s=args.time_limit, exclude=frozenset(args.exclude))
    print_summary(report)
    payload = {"benchmark": "soak", "quick": args.quick, "machine": machine, "bundle": bundle.describe(),
               "upload_cap_bytes": UPLOAD_CAP, **report}
    write_json(results_path("soak", args.quick, args.json), payload)
    if not all(report["goals"].values()):
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=1)[-4000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
