"""Server time to build one visitor's report, with and without the shared render cache.

    python benchmarks/page_build.py --run runs/mnist70k --pages 6

One process, one loaded run (as a server holds it): builds the whole report for a new Bokeh
document ``--pages`` times in each mode, alternating, and prints each page's time and the
render cache's hits. "uncached" sets the cache's size to 0 (it neither answers nor keeps anything);
"cached" keeps it across pages, as a server does between its visitors (its first page is cold).
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--pages", type=int, default=6)
    args = p.parse_args()
    import panel as pn
    from bokeh.document import Document

    from aereport.report import Report
    from aereport.state import ReportState
    from aereport.views.plane import warm_up

    state = ReportState.open(args.run)
    warm_up(state.dataset)  # the numba compiles, as a server does before its first visitor
    RENDERS = state.renders  # the run's render cache, shared by its sessions
    budget = RENDERS.max_bytes
    times = {"uncached": [], "cached": []}
    for i in range(args.pages):
        for mode in ("uncached", "cached"):
            RENDERS.max_bytes = 0 if mode == "uncached" else budget
            hits = RENDERS.hits
            t = time.perf_counter()
            pn.panel(Report(state=state)).get_root(Document())
            times[mode].append(time.perf_counter() - t)
            print(f"page {i + 1} {mode}: {times[mode][-1] * 1000:.0f} ms, {RENDERS.hits - hits} renders from the cache",
                  flush=True)
    for mode, ts in times.items():
        later = ts[1:] or ts
        print(f"{mode}: first page {ts[0] * 1000:.0f} ms, later pages median {np.median(later) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
