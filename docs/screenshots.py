"""Take the README's screenshots from the real served report (one PNG per tab).

    python docs/screenshots.py --run runs/mnist      # writes docs/embeddings.png, decoder.png, training.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from _chromium import AT_FRAME_SIZE, DRAWN, launch, open_page, serving  # noqa: E402  (the benchmarks' Chromium and server)

# A checksum of the decoded image's pixels: it changes when a tap's image arrives.
DECODED = """() => { for (const m of Bokeh.documents[0].all_models) if (m.name == 'decoded-image')
  return Array.from(m.data_source.data.image[0]).reduce((a, v, i) => a + v * (i % 97 + 1), 0); }"""
# The path strip's title once a tap has drawn the path to it.
PATH = """() => { for (const m of Bokeh.documents[0].all_models)
  if (m.type == 'Figure' && m.renderers.some((r) => r.name == 'decoder-path')) return m.title.text.startsWith('path ('); }"""
SETTLED = "() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))"


def shoot(page, tab: str | None, renderer: str, path: Path, raster: str | None = None) -> None:
    """Open ``tab`` (None: the first), wait until its plot holding ``renderer`` is drawn (and the
    plane's ``raster`` at the plot's own size: a new server's first render is 400 × 400), and take the
    screenshot."""
    if tab:
        page.get_by_text(tab, exact=True).first.click()
    page.wait_for_function(DRAWN, arg=renderer, timeout=120000)
    if raster:
        page.wait_for_function(AT_FRAME_SIZE, arg=raster, timeout=30000)
    page.evaluate(SETTLED)
    page.screenshot(path=path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--port", type=int, default=5091)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with serving(args.run, args.port):
        with sync_playwright() as pw:
            b = launch(pw)
            page = open_page(b, f"http://127.0.0.1:{args.port}/", 1300, 820)
            shoot(page, None, "embedding-raster", HERE / "embeddings.png", raster="embedding-raster")
            page.get_by_text("Decoder", exact=True).first.click()
            page.wait_for_function(DRAWN, arg="decoder-marker", timeout=120000)
            before = page.evaluate(DECODED)
            page.mouse.click(1300 * 0.3, 820 * 0.5)
            page.wait_for_function(f"() => ({DECODED})() !== {before}", timeout=30000)
            page.wait_for_function(PATH, timeout=30000)
            shoot(page, None, "decoder-marker", HERE / "decoder.png", raster="decoder-raster")
            shoot(page, "Training", "sample-output", HERE / "training.png")
            b.close()


if __name__ == "__main__":
    main()
