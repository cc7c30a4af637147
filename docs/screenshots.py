"""Take the README's screenshots from the real served report (one PNG per tab).

    python docs/screenshots.py --run runs/mnist      # writes docs/embeddings.png, decoder.png, training.png
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--port", type=int, default=5091)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import launch

    exe = Path(sys.executable).with_name("aereport")
    server = subprocess.Popen([str(exe), "serve", "--run", args.run, "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
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
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
