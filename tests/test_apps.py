"""Each app in apps/ under `panel serve`, in headless Chromium: it loads cleanly and its main interaction works."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aereport.state import ensure_faces_run
from aereport.store import Run

from .conftest import CELEBA_DIR, ROOT, free_port, wait_for_port
from .test_browser import LOCATE, READ, tap, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def faces_run(module_tmp):
    """A small color face model (64×52, 4 epochs) on the CelebA sample: enough to test the widget."""
    return ensure_faces_run(module_tmp / "faces", CELEBA_DIR / "img_align_celeba", epochs=4, size=(64, 52)).path


def serve_app(name, env, log):
    port = free_port()
    panel = Path(sys.executable).with_name("panel")
    proc = subprocess.Popen([str(panel), "serve", str(ROOT / "apps" / f"{name}.py"), "--port", str(port),
                             "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}", "--warm"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env})
    wait_for_port(proc, port, log)
    return proc, f"http://127.0.0.1:{port}/{name}"


def load(page, url, renderer):
    page.goto(url, timeout=120000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60000)
    return wait_for(page, lambda: page.evaluate(READ, renderer))


def decoded(page) -> np.ndarray:
    d = page.evaluate(READ, "decoded-image")
    img = np.asarray(d["image"], np.float64)
    if len(d["shape"]) == 2 and img.size == np.prod(d["shape"]):
        return np.flipud(img.reshape(d["shape"]))
    return img  # RGBA packed as uint32: compared for change only


@pytest.mark.parametrize("app", ["layouts", "decoder", "training"])
def test_figure_app(app, trained_run, page, tmp_path):
    proc, url = serve_app(app, {"AEREPORT_RUN": str(trained_run)}, tmp_path / "app.log")
    try:
        if app == "layouts":
            before = load(page, url, "embedding-raster")
            page.get_by_role("button", name="UMAP").click()
            wait_for(page, lambda: page.evaluate(READ, "embedding-raster")["x"] != before["x"])
        elif app == "decoder":
            load(page, url, "decoder-marker")
            decoder = Run(trained_run).load_autoencoder().decoder
            old = page.evaluate(READ, "decoder-marker")
            m = tap(page, "decoder-marker", 0.7, 0.3,
                    lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
            from aereport.model import decode_at

            wait_for(page, lambda: np.abs(decoded(page) - decode_at(decoder, m["x"][0], m["y"][0])).max() <= 1e-5)
        else:
            load(page, url, "sample-input")
            before = page.evaluate(READ, "sample-input")["image"]
            page.get_by_role("button", name="Sample !").click()
            wait_for(page, lambda: page.evaluate(READ, "sample-input")["image"] != before)
        assert page.errors == []
    finally:
        proc.terminate()
        proc.wait(20)


def test_face_decoder_decodes_while_dragging(faces_run, page, tmp_path):
    proc, url = serve_app("faces", {"AEREPORT_FACES_RUN": str(faces_run)}, tmp_path / "faces.log")
    try:
        load(page, url, "decoder-marker")
        page.evaluate("""() => { let src = null;
          for (const m of Bokeh.documents[0].all_models)
            if (m.type == 'GlyphRenderer' && m.name == 'decoded-image') src = m.data_source;
          window.__frames = new Set();
          src.connect(src.properties.data.change, () => window.__frames.add(src.data.image[0].join(',')));
        }""")
        x0, y = page.evaluate(LOCATE, ["decoder-marker", 0.15, 0.5])
        x1, _ = page.evaluate(LOCATE, ["decoder-marker", 0.85, 0.5])
        page.mouse.move(x0, y)
        page.mouse.down()
        for i in range(1, 16):
            page.mouse.move(x0 + (x1 - x0) * i / 15, y)
            page.wait_for_timeout(60)
        page.mouse.up()
        # many distinct faces along one drag, not one at the end
        wait_for(page, lambda: page.evaluate("() => window.__frames.size") >= 5)
        marker = page.evaluate(READ, "decoder-marker")
        ae = Run(faces_run).load_autoencoder()
        expected = np.asarray(ae.decoder.predict_on_batch(np.array([[marker["x"][0], marker["y"][0]]], np.float32)))[0]
        assert expected.shape == (64, 52, 3)

        def shown_matches():
            rgba = np.asarray(page.evaluate(READ, "decoded-image")["image"], np.uint32).reshape(64, 52)
            shown = np.flipud(rgba.view(np.uint8).reshape(64, 52, 4)[..., :3]) / 255
            return np.abs(shown - np.clip(expected, 0, 1)).max() <= 1 / 255 + 1e-6

        wait_for(page, shown_matches)
        assert page.errors == []
    finally:
        proc.terminate()
        proc.wait(20)
