"""Animated layout switches in the browser: frames per second while all points fly from one
layout to the next, in the served report and in its exported HTML, in headless Chromium
(software rendering: no GPU here).

    python benchmarks/transition.py --run runs/mnist70k --switches 6

Each switch records the frames drawn during the ~1 s transition and the page's own work per
frame (easing every point and splatting it into the frame image); the rest of a frame's time is
the browser compositing the page.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from _chromium import launch, serving

IDLE_FRAME = """async () => { const t0 = performance.now(); let n = 0;
  await new Promise(res => { const f = () => (++n < 60 ? requestAnimationFrame(f) : res()); requestAnimationFrame(f); });
  return (performance.now() - t0) / 60; }"""


def switches(page, name: str, count: int) -> list[tuple]:
    """Click through the layout buttons ``count`` times; each transition's (target, points,
    frames, ms, median work per frame in ms)."""
    record = f"() => window.aereportTransitions && window.aereportTransitions['{name}']"
    buttons = [page.get_by_role("button").filter(has_text="latent").first,
               *[page.get_by_role("button", name=n).first for n in ("UMAP", "t-SNE", "PCA")]]
    available = [b for b in buttons if b.count()]
    rows = []
    for i in range(count):
        button = available[(i + 1) % len(available)]
        page.evaluate(f"() => {{ if (window.aereportTransitions) delete window.aereportTransitions['{name}']; }}")
        button.click()
        page.wait_for_function(f"() => {{ const r = ({record})(); return r && r.done; }}", timeout=30_000)
        r = page.evaluate(record)
        rows.append((button.inner_text(), r["n"], r["frames"], r["ms"], statistics.median(r["frame_ms"])))
        page.wait_for_timeout(1500)  # the new layout's raster lands before the next switch
    return rows


def report(title: str, idle: float, rows: list[tuple]) -> None:
    print(f"\n{title} — an idle page's animation frame: {idle:.1f} ms")
    print(f"{'to':>20} {'points':>8} {'frames':>7} {'ms':>7} {'fps':>6} {'work/frame ms':>14}")
    for name, n, frames, ms, work in rows:
        print(f"{name:>20} {n:>8,} {frames:>7} {ms:>7.0f} {frames / ms * 1000:>6.1f} {work:>14.1f}")
    print(f"median fps: {statistics.median(f / ms * 1000 for _, _, f, ms, _ in rows):.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--switches", type=int, default=6)
    p.add_argument("--port", type=int, default=5093)
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=950)
    args = p.parse_args()
    from aereport.export import export_report

    viewport = {"width": args.width, "height": args.height}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = launch(pw)
        with serving(args.run, args.port):
            page = browser.new_page(viewport=viewport)
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120_000)
            page.wait_for_timeout(5000)
            served = page.evaluate(IDLE_FRAME), switches(page, "embedding-raster-transition", args.switches)
            page.close()
        start = time.perf_counter()
        html = export_report(args.run, Path(tmp) / "report.html")
        exported_s, size = time.perf_counter() - start, html.stat().st_size
        page = browser.new_page(viewport=viewport)
        page.goto(html.as_uri())
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && window.aereport", timeout=120_000)
        page.wait_for_timeout(2000)
        exported = page.evaluate(IDLE_FRAME), switches(page, "layout-transition", args.switches)
        browser.close()
    print(f"page {args.width}×{args.height}, headless Chromium")
    report("served (aereport serve)", *served)
    report(f"exported report ({size / 1e6:.2f} MB, written in {exported_s:.0f} s)", *exported)


if __name__ == "__main__":
    main()
