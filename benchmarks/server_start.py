"""Cold start of `aereport serve` on a cached run: process start to the first page served.

    python benchmarks/server_start.py --run runs/mnist70k [--repeats 3] [--layouts ae,pca,umap,tsne] [--visit-after 8]

Each repeat starts a fresh server process and polls its port: "listening" is the first
accepted connection, "first page" the first complete answer to GET / (the whole report built
for that visitor), sent at once or ``--visit-after`` seconds after the port opened (the server
warms up in between). Prints each repeat and the median.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np


def start_once(run: str, port: int, layouts: str = "", visit_after: float = 0.0) -> tuple[float, float, float]:
    # $AEREPORT_EXE: another version's command (another checkout's), to measure two side by side
    exe = os.environ.get("AEREPORT_EXE") or Path(sys.executable).with_name("aereport")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    extra = ["--layouts", layouts] if layouts else []
    proc = subprocess.Popen([str(exe), "serve", "--run", run, "--port", str(port), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                break
            except OSError:
                time.sleep(0.02)
        listening = time.perf_counter() - t0
        time.sleep(visit_after)
        t1 = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as r:
            r.read()
        return listening, time.perf_counter() - t0, time.perf_counter() - t1
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--port", type=int, default=5091)
    p.add_argument("--layouts", default="", help="passed to serve, e.g. ae,pca,umap,tsne (missing ones: background)")
    p.add_argument("--visit-after", type=float, default=0.0,
                   help="seconds between listening and the first visit (0: at once)")
    args = p.parse_args()
    rows = [start_once(args.run, args.port, args.layouts, args.visit_after) for _ in range(args.repeats)]
    for i, (listening, page, answer) in enumerate(rows):
        print(f"start {i + 1}: listening {listening:.2f} s, first page {page:.2f} s (its answer took {answer:.2f} s)")
    listening, page, answer = np.median(np.array(rows), axis=0)
    print(f"median: listening {listening:.2f} s, first page {page:.2f} s (its answer took {answer:.2f} s)")


if __name__ == "__main__":
    main()
