"""Exported report on a run: file size, time to interactive offline, and TF.js decode latency.

    python benchmarks/export_report.py --run runs/mnist70k [--decodes 200] [--hovers 60] [--report FILE]

``--hovers``: the pointer moves across the Embeddings plane in that many steps, and the page's time
repainting that plane is summed (Bokeh's ``PlotView._actual_paint``): what each move of the hover
marker costs the page's main thread. ``--report`` measures an already exported file (e.g. one made
by another version) instead of exporting the run.
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


MOVED = """() => { for (const m of Bokeh.documents[0].all_models) if (m.name == 'hover-marker')
  return m.type == 'Label' ? [m.x, m.y] : [m.data_source.data.x[0], m.data_source.data.y[0]]; }"""


def hover_cost(page, steps: int) -> dict:
    """The page's repaints of the Embeddings plane while the pointer crosses it in ``steps`` moves."""
    from _chromium import FRAME_OF, TIME_PAINTS

    page.wait_for_timeout(1000)
    page.evaluate(TIME_PAINTS, ["hover-marker"])
    x, y, w, h = page.evaluate(FRAME_OF, "hover-marker")
    moves, last = 0, page.evaluate(MOVED)
    for k in range(steps):
        page.mouse.move(x + w * (0.2 + 0.6 * k / steps), y + h * (0.35 + 0.3 * (k % 7) / 7))
        page.wait_for_timeout(60)
        now = page.evaluate(MOVED)
        moves, last = moves + (now != last), now
    paints = page.evaluate("() => window.__paints")
    return {"moves": moves, **paints}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--decodes", type=int, default=200)
    p.add_argument("--hovers", type=int, default=0)
    p.add_argument("--report", help="an exported report to measure instead of exporting --run")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import launch

    from aereport.export import export_report

    out, took = Path(args.report or Path(tempfile.mkdtemp()) / "report.html"), float("nan")
    if not args.report:
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
        hovers = hover_cost(page, args.hovers) if args.hovers else None
        b.close()
    made = f"export took {took:.1f} s" if not args.report else f"measured {out}"
    print(f"{made}; file {out.stat().st_size / 1e6:.2f} MB; blocked requests {len(blocked)}")
    print(f"time to interactive (load + decoder ready), file://, offline: {tti:.2f} s")
    print(f"TF.js decode + draw over {len(lat)} calls: p50 {np.median(lat):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms")
    if hovers:
        print(f"hover: {hovers['moves']} marker moves, {hovers['n']} repaints of the plane, {hovers['ms']:.1f} ms "
              f"in them ({hovers['ms'] / max(hovers['moves'], 1):.2f} ms per move)")


if __name__ == "__main__":
    main()
