"""Each app in apps/ under `panel serve`, in headless Chromium: it loads cleanly and its main interaction works."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aereport.runs import ensure_faces_run
from aereport.store import Run

from .conftest import CELEBA_DIR, ROOT, free_port, wait_for_port
from .bokeh_page import LOCATE, READ
from .test_browser import tap, wait_for

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


def test_layouts_app_zoomed_in_draws_each_face_as_its_own_thumbnail(faces_run, page, tmp_path):
    """The layouts app on color photographs: zoomed in to few enough faces, each is drawn at its
    place as its own thumbnail from the run's atlas (32 px on its longest side), pixel for pixel."""
    from .test_views_explore import pixel_of, rgba

    proc, url = serve_app("layouts", {"AEREPORT_RUN": str(faces_run)}, tmp_path / "layouts.log")
    try:
        load(page, url, "embedding-raster")
        page.mouse.move(*page.evaluate(LOCATE, ["embedding-raster", 0.5, 0.5]))
        xy = Run(faces_run).load_layouts()["ae"]["xy"]

        def alone(d, h, w):
            """Faces in view whose card overlaps no other card, away from the raster's edges."""
            x0, y0, dw, dh = (d[k][0] for k in ("x", "y", "dw", "dh"))
            inside = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x0 + dw) & (xy[:, 1] >= y0) & (xy[:, 1] <= y0 + dh))
            col, row = pixel_of(xy[inside], d, d["shape"])
            apart = (np.abs(col[:, None] - col[None]) >= w + 2) | (np.abs(row[:, None] - row[None]) >= h + 2)
            np.fill_diagonal(apart, True)
            keep = (apart.all(axis=1) & (col >= w) & (row >= h) & (col < d["shape"][1] - w) & (row < d["shape"][0] - h))
            return inside[keep], col[keep], row[keep]

        def zoomed():
            """The thumbnails raster once it shows a face standing apart (zooming on until it does)."""
            page.mouse.wheel(0, -120)
            page.wait_for_timeout(500)
            d = page.evaluate(READ, "embedding-raster-thumbnails")
            if d and d["shape"][0] > 1 and np.asarray(d["image"]).any():
                atlas = Run(faces_run).load_sprites(len(xy))  # the server built it for the first of them
                found = alone(d, *atlas.shape[1:3])
                return (d, atlas, found) if len(found[0]) else None

        data, atlas, (samples, col, row) = wait_for(page, zoomed, timeout=90)
        assert atlas.ndim == 4 and max(atlas.shape[1:3]) == 32
        h, w = atlas.shape[1:3]
        img = rgba(data)
        for j, sample in enumerate(samples[:10]):
            face = np.concatenate([atlas[sample], np.full((h, w, 1), 255, np.uint8)], axis=-1)
            assert any(np.array_equal(img[r - h // 2:r - h // 2 + h, c - w // 2:c - w // 2 + w], face)
                       for r in (row[j] - 1, row[j], row[j] + 1) for c in (col[j] - 1, col[j], col[j] + 1)), \
                f"the image drawn at sample {sample} is not that face"
        assert page.errors == []
    finally:
        proc.terminate()
        proc.wait(20)
