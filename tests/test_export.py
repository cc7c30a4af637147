"""The exported report, opened from file:// in Chromium with every network request blocked."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aereport.export import export_report
from aereport.model import decode_at
from aereport.state import dataset_for
from aereport.store import Run
from aereport.views._elements import color_key

from .conftest import aereport
from .test_browser import MID_FLIGHT, RANGES, READ, TRANSITION_SHOWN, power4, splat, tap, wait_for

pytestmark = pytest.mark.browser
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def exported(trained_run, module_tmp):
    out = module_tmp / "report.html"
    assert export_report(trained_run, out) == out
    return out


def open_offline(browser, path):
    """Open ``path`` with every request that is not file:, data: or blob: blocked and counted."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked, errors, dialogs = [], [], []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && window.aereport", timeout=60000)
    return context, page, blocked, errors, dialogs


def test_single_file_size_and_contents(exported):
    text = exported.read_text()
    assert exported.stat().st_size < 8e6
    assert "Content-Security-Policy" in text and "window.AEREPORT_DECODER = " in text
    # nothing is linked: every script and style is inline (the offline test counts requests)
    assert "<script src=" not in text and '<link rel="stylesheet"' not in text


def test_offline_tap_decodes_like_keras_and_buttons_switch(exported, browser, trained_run):
    context, page, blocked, errors, _ = open_offline(browser, exported)
    try:
        visible = lambda: page.evaluate("""() => { const out = {};
            for (const m of Bokeh.documents[0].all_models)
              if (m.type == 'GlyphRenderer' && m.name && m.name.startsWith('raster-')) out[m.name] = m.visible;
            return out; }""")
        assert visible() == {"raster-ae": True, "raster-umap": False, "raster-tsne": False, "raster-pca": False}
        before = page.evaluate(RANGES, "raster-ae")
        page.get_by_role("button", name="UMAP").click()
        # The points fly from the autoencoder's raster to UMAP's, as in the served report.
        frame = page.evaluate(MID_FLIGHT, "layout-transition")
        assert "missed" not in frame, frame
        wait_for(page, lambda: visible()["raster-umap"] and not visible()["raster-ae"])
        after = page.evaluate(RANGES, "raster-umap")
        run = Run(trained_run)
        layouts, dataset = run.load_layouts(), dataset_for(run)
        ae, umap = (np.asarray(layouts[k]["xy"], np.float64) for k in ("ae", "umap"))
        cols = {k: np.asarray(v) for k, v in frame["cols"].items()}
        for (x0, x1, y0, y1), xy, u, v in ((before, ae, "u0", "v0"), (after, umap, "u1", "v1")):
            np.testing.assert_allclose(cols[u], (xy[:, 0] - x0) / (x1 - x0), atol=3e-5)
            np.testing.assert_allclose(cols[v], (xy[:, 1] - y0) / (y1 - y0), atol=3e-5)
        np.testing.assert_array_equal(cols["c"], dataset.labels)
        assert frame["p"] == pytest.approx(power4(frame["t"]), abs=1e-12)
        assert dict(zip(frame["idx"], frame["col"])) == splat(cols, frame["p"], frame["shape"],
                                                              list(color_key(dataset).values()))
        wait_for(page, lambda: page.evaluate("() => window.aereportTransitions['layout-transition'].done"))
        assert frame["shown"] and not page.evaluate(TRANSITION_SHOWN, "layout-transition")

        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        decoder = Run(trained_run).load_autoencoder().decoder
        for fx, fy in [(0.4, 0.5), (0.95, 0.05)]:
            old = page.evaluate(READ, "decoder-marker")
            marker = tap(page, "decoder-marker", fx, fy,
                         lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
            data = page.evaluate(READ, "decoded-image")
            shown = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
            np.testing.assert_allclose(shown, decode_at(decoder, marker["x"][0], marker["y"][0]), atol=1e-5)
        assert blocked == [] and errors == []
    finally:
        context.close()


def test_labels_and_names_are_escaped(tmp_path, browser):
    root = tmp_path / EVIL.replace("/", "")
    for cls in (EVIL, "plain"):
        (root / cls).mkdir(parents=True)
        for i in range(15):
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8), np.uint8)).save(root / cls / f"{i}.png")
    run = tmp_path / "run"
    aereport("train", "--run", run, "--dataset", "folder", "--path", root, "--epochs", 1)
    out = tmp_path / "evil.html"
    aereport("export", run, out)
    context, page, blocked, errors, dialogs = open_offline(browser, out)
    try:
        page.get_by_text("About", exact=True).first.click()
        page.get_by_text(EVIL, exact=False).first.wait_for(timeout=10000)
        page.wait_for_timeout(500)
        assert dialogs == [] and blocked == [] and errors == []
    finally:
        context.close()


def test_dir_format(trained_run, tmp_path):
    target = export_report(trained_run, tmp_path / "site", fmt="dir")
    assert target.name == "index.html"
    assert {p.name for p in (tmp_path / "site").iterdir()} >= {"index.html", "decoder", "tf.min.js"}
    assert (tmp_path / "site" / "decoder" / "model.json").is_file()


def test_wide_latent_report_decodes_offline_through_its_field(mnist_small, browser, tmp_path):
    """A user's model with a 16-D code, exported from explore(): a tap blends the field's codes in
    the page and TF.js decodes exactly what Keras decodes from the same blend."""
    import keras

    import aereport
    from aereport.state import field_at

    keras.utils.set_random_seed(1)
    enc = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(16)])
    dec = keras.Sequential([keras.Input((16,)), keras.layers.Dense(784, activation="sigmoid"),
                            keras.layers.Reshape((28, 28))])
    report = aereport.explore(mnist_small.images[:1000], mnist_small.labels[:1000], encoder=enc, decoder=dec,
                              layouts=("ae",), run_dir=tmp_path / "wide")
    out = report.export(tmp_path / "wide.html")
    field = report.state.latent_field("ae")
    context, page, blocked, errors, _ = open_offline(browser, out)
    try:
        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        old = page.evaluate(READ, "decoder-marker")
        marker = tap(page, "decoder-marker", 0.35, 0.6,
                     lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
        data = page.evaluate(READ, "decoded-image")
        shown = np.flipud(np.asarray(data["image"], np.float32).reshape(data["shape"]))
        z = field_at(field, marker["x"][0], marker["y"][0])
        np.testing.assert_allclose(shown, dec(z[None]).numpy()[0], atol=1e-5)
        assert blocked == [] and errors == []
    finally:
        context.close()
