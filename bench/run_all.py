"""Run every benchmark and hardening check once, in order, each in its own process, then write RESULTS.md.

    python -m bench.run_all [--quick] [--model-dir models] [--skip soak,fuzz]

Full runs write bench/results/*.json and bench/RESULTS.md (kept in the repository); --quick runs write to
a temp dir and only check that everything works. Run on an otherwise idle machine: the numbers are only
as good as the quiet around them (the report records the load average at each start).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import QUICK_RESULTS_DIR, REPO_ROOT, RESULTS_DIR, write_json
from bench.report import SECTIONS

STEPS = tuple(SECTIONS)  # every benchmark that has a section in RESULTS.md


def step_command(step: str, results: Path, quick: bool, model_dir: Path | None) -> list[str]:
    model = ["--model-dir", str(model_dir)] if model_dir and step != "train_pipeline" else []
    quick_flag = ["--quick"] if quick else []
    output = ["--json", str(results / f"{step}.json")]
    extra = {"input_check": [] if quick else ["--ranks", "32,64,128,256,1280"]}.get(step, [])
    return [sys.executable, "-m", f"bench.{step}", *model, *quick_flag, *output, *extra]


def run_step(step: str, command: list[str]) -> dict:
    print(f"\n=== {step}: {' '.join(command)}", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)
    return {"command": " ".join(command), "exit_code": completed.returncode,
            "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out, of {', '.join(STEPS)}")
    args = parser.parse_args()
    results = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    skipped = {name for name in args.skip.split(",") if name}
    steps = {}
    for step in STEPS:
        if step not in skipped:
            steps[step] = run_step(step, step_command(step, results, args.quick, args.model_dir))
    write_json(results / "run_all.json", {"quick": args.quick, "steps": steps})
    markdown = results / "RESULTS.md" if args.quick else REPO_ROOT / "bench" / "RESULTS.md"
    report = run_step("report", [sys.executable, "-m", "bench.report", "--results", str(results),
                                 "--out", str(markdown)])
    failed = [name for name, step in steps.items() if step["exit_code"] != 0]
    print(f"\nsteps with a non-zero exit: {failed or 'none'}; report: {markdown}")
    return 1 if failed or report["exit_code"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
