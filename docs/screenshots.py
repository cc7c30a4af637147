"""Take the README's screenshots from the real served report (one PNG per tab).

    python docs/screenshots.py --run runs/mnist      # writes docs/embeddings.png, decoder.png, training.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--port", type=int, default=5091)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import launch, serving

    with serving(args.run, args.port):
        with sync_playwright() as pw:
            b = launch(pw)
            page = b.new_page(viewport={"width": 1300, "height": 820})
            page.goto(f"http://127.0.0.1:{args.port}/", timeout=120000)
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120000)
            page.wait_for_timeout(4000)
            page.screenshot(path=HERE / "embeddings.png")
            page.get_by_text("Decoder", exact=True).first.click()
            page.wait_for_timeout(2500)
            page.mouse.click(1300 * 0.3, 820 * 0.5)
            page.wait_for_timeout(1500)
            page.screenshot(path=HERE / "decoder.png")
            page.get_by_text("Training", exact=True).first.click()
            page.wait_for_timeout(2500)
            page.screenshot(path=HERE / "training.png")
            b.close()


if __name__ == "__main__":
    main()
