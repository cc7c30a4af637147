"""Two versions of aereport measured side by side: every benchmark alternating between them.

    git worktree add ../base <commit>          # the version to compare with
    python benchmarks/side_by_side.py --base ../base --run R --data-dir ../shared/data/mnist --rounds 2

Each round runs every benchmark once per version, the two versions alternating (base first in
odd rounds, this checkout first in even ones), each from its own checkout's ``benchmarks/`` with
its own package on ``PYTHONPATH`` (the same environment otherwise): a noisy machine's slow minute
falls on both. Prints each run's output, and writes all of it to ``--log``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
BENCHMARKS = {  # name -> arguments of its script (run from benchmarks/)
    "tap": ["tap_latency.py", "--run", "{run}", "--taps", "40"],
    "page": ["page_build.py", "--run", "{run}", "--pages", "5"],
    "start": ["server_start.py", "--run", "{run}", "--repeats", "2", "--visit-after", "0"],
    "zoom": ["datashader_render.py", "--data-dir", "{data_dir}"],
    "export": ["export_report.py", "--run", "{run}", "--decodes", "100"],
}


def run_one(checkout: Path, name: str, args: argparse.Namespace) -> str:
    """One benchmark of one checkout: its output, with its wall time."""
    argv = [a.format(run=args.run, data_dir=args.data_dir) for a in BENCHMARKS[name]]
    env = {**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "3",
           "AEREPORT_TFJS": os.environ.get("AEREPORT_TFJS") or str(HERE / "tests" / "js" / "node_modules" / "@tensorflow"
                                                                / "tfjs" / "dist" / "tf.min.js")}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], cwd=checkout / "benchmarks", env=env, capture_output=True,
                         text=True, timeout=args.timeout)
    took = time.perf_counter() - start
    text = out.stdout + (f"\n[exit {out.returncode}] {out.stderr[-1500:]}" if out.returncode else "")
    return f"{text.rstrip()}\n[{took:.1f} s]"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the other checkout")
    p.add_argument("--run", required=True, help="a trained run (full MNIST, all layouts)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS))
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--log", default="side_by_side.log")
    args = p.parse_args()
    args.run, args.data_dir = str(Path(args.run).resolve()), str(Path(args.data_dir).resolve())
    versions = {"base": Path(args.base).resolve(), "this": HERE}
    with open(args.log, "w") as log:
        for r in range(args.rounds):
            order = ["base", "this"] if r % 2 == 0 else ["this", "base"]
            for name in args.only.split(","):
                for version in order:
                    text = run_one(versions[version], name, args)
                    block = f"=== round {r + 1} · {name} · {version} ===\n{text}\n"
                    print(block, flush=True)
                    log.write(block)
                    log.flush()


if __name__ == "__main__":
    main()
