"""Tap -> decoded image latency measured inside headless Chromium against `aereport serve`.

    python benchmarks/tap_latency.py --run runs/mnist70k [--taps 60]

A capturing pointerdown listener stamps each tap; a requestAnimationFrame loop stamps the frame in
which the decoded image's pixels change. Prints p50/p95 over all taps and the server's cold start,
and the page's time repainting the Decoder plane per tap (Bokeh's ``PlotView._actual_paint``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

HOOK = """() => {
  let src = null;
  for (const m of Bokeh.documents[0].all_models)
    if (m.type == 'GlyphRenderer' && m.name == 'decoded-image') src = m.data_source;
  window.__lat = [];
  document.addEventListener('pointerdown', () => {
    const t0 = performance.now(), old = src.data.image[0];
    const check = () => src.data.image[0] !== old ? window.__lat.push(performance.now() - t0)
                                                   : requestAnimationFrame(check);
    requestAnimationFrame(check);
  }, true);
}"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--taps", type=int, default=60)
    p.add_argument("--port", type=int, default=5077)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import FRAME_OF, TIME_PAINTS, launch, open_page, serving

    with serving(args.run, args.port) as server:
        with sync_playwright() as pw:
            b = launch(pw)
            t = time.perf_counter()
            page = open_page(b, f"http://127.0.0.1:{args.port}/")
            page.get_by_text("Decoder", exact=True).first.click()
            # The tab's view is made when it is first opened: wait for its image, then let it settle.
            page.wait_for_function("""() => [...Bokeh.documents[0].all_models].some(
                m => m.type == 'GlyphRenderer' && m.name == 'decoded-image')""", timeout=120000)
            first_page = time.perf_counter() - t
            page.wait_for_timeout(1500)
            page.evaluate(HOOK)
            page.evaluate(TIME_PAINTS, ["decoder-marker"])
            x0, y0, w, h = page.evaluate(FRAME_OF, "decoder-marker")
            rng = np.random.default_rng(0)
            for _ in range(args.taps):
                fx, fy = rng.uniform(0.05, 0.95, 2)
                page.mouse.click(x0 + fx * w, y0 + fy * h)
                page.wait_for_timeout(250)
            lat = np.array(page.evaluate("() => window.__lat"))
            paints = page.evaluate("() => window.__paints")
            b.close()
    print(f"server process start to listening (cached run): {server.ready_s:.1f} s; page + Decoder tab: {first_page:.1f} s")
    print(f"tap -> image in browser over {len(lat)} taps: p50 {np.median(lat):.1f} ms, "
          f"p95 {np.percentile(lat, 95):.1f} ms")
    print(f"the Decoder plane repainted {paints['n']} times, {paints['ms']:.1f} ms in all "
          f"({paints['ms'] / max(args.taps, 1):.2f} ms per tap)")


if __name__ == "__main__":
    main()
