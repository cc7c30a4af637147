"""Exported report on a run: file size, time to interactive offline, and TF.js decode latency.

    python benchmarks/export_report.py --run runs/mnist70k [--decodes 200]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

DECODES = """async (n) => {
  let src = null;
  for (const m of Bokeh.documents[0].all_models)
    if (m.type == 'GlyphRenderer' && m.name == 'decoded-image') src = m.data_source;
  await window.aereport.decode(0, 0, src);  // model load + first predict
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await window.aereport.decode(Math.sin(i) * 5, Math.cos(i) * 5, src);
    t.push(performance.now() - t0);
  }
  return t; }"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--decodes", type=int, default=200)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import launch

    from aereport.export import export_report

    out = Path(tempfile.mkdtemp()) / "report.html"
    t = time.perf_counter()
    export_report(args.run, out)
    took = time.perf_counter() - t
    with sync_playwright() as pw:
        b = launch(pw)
        ctx = b.new_context(viewport={"width": 1400, "height": 1000})
        blocked = []
        ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                  else (blocked.append(r.request.url), r.abort()))
        page = ctx.new_page()
        t = time.perf_counter()
        page.goto(out.as_uri())
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && window.aereport", timeout=120000)
        page.evaluate("() => window.aereport.load()")
        tti = time.perf_counter() - t
        lat = np.array(page.evaluate(DECODES, args.decodes))
        b.close()
    print(f"export took {took:.1f} s; file {out.stat().st_size / 1e6:.2f} MB; blocked requests {len(blocked)}")
    print(f"time to interactive (load + decoder ready), file://, offline: {tti:.2f} s")
    print(f"TF.js decode + draw over {len(lat)} calls: p50 {np.median(lat):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms")


if __name__ == "__main__":
    main()
