"""The server's CPU time per action of one session: a zoom of the Decoder plane, a tap.

    cd benchmarks && python server_cost.py --run runs/mnist70k [--zooms 40] [--taps 100]

One Bokeh websocket client on the Decoder tab, one request at a time, each waited for and then
0.3 s of quiet; the server's CPU seconds (every thread: BLAS workers spinning count) over the
requests, divided by their number. What a loaded server can take is its cores over these
figures; the load benchmark (``load.py``) measures latency under that load.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from _chromium import cpu_seconds, serving
from load import decoder_session, zoom


def measure(url: str, pid: int, zooms: int, taps: int) -> dict:
    session, doc, loop, named, fig = decoder_session(url)
    time.sleep(3)  # the tab's first renders
    x_input = next(m for m in doc.models if getattr(m, "title", None) == "x" and hasattr(m, "value"))
    arrived = {"image": [], "raster": []}
    named["decoded-image"].data_source.on_change("data", lambda attr, old, new: arrived["image"].append(time.time()))
    named["decoder-raster"].data_source.on_change("data", lambda attr, old, new: arrived["raster"].append(time.time()))
    x0, x1 = fig.x_range.start, fig.x_range.end
    rng = np.random.default_rng(0)
    out = {"models_in_document": len(doc.models)}
    for kind, n in (("zoom", zooms), ("tap", taps)):
        waited = arrived["raster" if kind == "zoom" else "image"]
        cpu0, latencies = cpu_seconds(pid), []
        for i in range(n):
            k, start = len(waited), time.time()
            if kind == "tap":
                loop.add_callback(lambda x=float(rng.uniform(x0, x1)): setattr(x_input, "value", x))
            else:  # in to a place, then back out to the whole layout
                half = (x1 - x0) / 4 if i % 2 == 0 else (x1 - x0) / 2
                mid = float(rng.uniform(x0 + half, x1 - half)) if i % 2 == 0 else (x0 + x1) / 2
                loop.add_callback(lambda a=mid - half, b=mid + half: zoom(doc, fig, a, b))
            while len(waited) == k and time.time() - start < 10:
                time.sleep(0.002)
            latencies.append((time.time() - start) * 1000)
            time.sleep(0.3)
        out[kind] = {"n": n, "server_cpu_ms_each": round((cpu_seconds(pid) - cpu0) / n * 1000, 1),
                     "client_round_trip_p50_ms": round(float(np.median(latencies)), 1)}
    # The plane as the last zoom drew it: at the size the session reported, not Datashader's 400×400.
    out["plane_shape"] = list(np.shape(named["decoder-raster"].data_source.data["image"][0]))
    loop.add_callback(session.close)
    return out


def main():
    sys.setrecursionlimit(100_000)  # Bokeh's client handles each message a stack level deeper
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--zooms", type=int, default=40)
    p.add_argument("--taps", type=int, default=100)
    p.add_argument("--port", type=int, default=5079)
    args = p.parse_args()
    with serving(args.run, args.port) as server:
        time.sleep(3)  # the server's own warm-up
        print(json.dumps(measure(f"http://127.0.0.1:{args.port}/", server.pid, args.zooms, args.taps)))


if __name__ == "__main__":
    main()
