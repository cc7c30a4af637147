"""The Decoder tab (aereport.views.decoder): a tap is a stream of positions feeding one function
over the run's latent map; a layout switch decodes once; the walk strip is decoded only for a walk."""
from __future__ import annotations

import shutil

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document

from aereport.latent import LatentMap
from aereport.report import Report, load_state
from aereport.views.decoder import PATH_PROMPT, DecoderView, PathStrip


@pytest.fixture(scope="module")
def state(trained_run, module_tmp):
    run = module_tmp / "run"
    shutil.copytree(trained_run, run)
    return load_state(str(run))


@pytest.fixture
def counted(monkeypatch):
    calls = {"decode": 0, "path": 0}
    decode, path = LatentMap.decode, LatentMap.path

    def counting_decode(self, *args):
        calls["decode"] += 1
        return decode(self, *args)

    def counting_path(self, *args):
        calls["path"] += 1
        return path(self, *args)
    monkeypatch.setattr(LatentMap, "decode", counting_decode)
    monkeypatch.setattr(LatentMap, "path", counting_path)
    return calls


def test_a_page_decodes_its_first_image_once_and_no_walk(state, counted):
    view = DecoderView(state=state)
    pn.panel(view).get_root(Document())
    assert counted == {"decode": 1, "path": 0}
    assert view.strip.images() is None and view.strip._title() == PATH_PROMPT


def test_a_tap_decodes_once_and_walks_from_the_last_position(state, counted):
    view = DecoderView(state=state)
    pn.panel(view).get_root(Document())
    start = (view.x, view.y)
    x, y = (float(v) for v in state.layouts["ae"][0])  # on the plane, wherever the model put it
    counted.update(decode=0, path=0)
    view._on_tap(x, y)
    assert counted == {"decode": 1, "path": 1}
    assert view.strip.start == pytest.approx(start) and view.strip.end == (x, y)
    image = np.flipud(np.asarray(view._images[0][1].data["image"][0]))
    np.testing.assert_allclose(image, state.latent.decode("ae", x, y)[0], atol=1e-6)
    before = dict(counted)
    view._on_tap(1e9, 1e9)  # off the plane (an axis): not taken
    assert counted == before and (view.x, view.y) == (x, y)


@pytest.mark.parametrize("layout", ["umap", "pca"])
def test_a_layout_switch_decodes_once_and_clears_the_walk(state, counted, layout):
    view = DecoderView(state=state)
    pn.panel(view).get_root(Document())
    view._on_tap(*(float(v) for v in state.layouts["ae"][0]))
    counted.update(decode=0, path=0)
    view.layout = layout
    assert counted == {"decode": 1, "path": 0}
    assert (view.x, view.y) == pytest.approx(tuple(np.median(state.layouts[layout], axis=0)))
    assert view.strip.start is None and view.strip._title() == PATH_PROMPT
    assert view.method.startswith("decoder at the weighted mean latent code")


def test_typed_positions_decode_like_taps(state, counted):
    view = DecoderView(state=state, x=10, y=50)  # the tutorial's (10, 50)
    pn.panel(view).get_root(Document())
    assert view._decoded == ("ae", 10, 50, state.version) and counted["decode"] == 1
    view.param.update(x=1.0, y=2.0)
    assert counted["decode"] == 2 and view.strip.end == (1.0, 2.0)


def test_the_strip_on_its_own(state):
    strip = PathStrip(state=state, layout="ae", start=(0.0, 0.0), end=(1.0, 1.0), steps=4)
    images = strip.images()
    h, w = state.dataset.image_shape
    assert images.shape == (h, 4 * w + 3)  # four tiles and the gaps between them
    assert strip._title() == "path (0, 0) → (1, 1)"
    report = Report(state=state)
    assert report.decoder.strip.steps == report.decoder.path_steps == 7


def test_a_wide_code_is_traversed_around_each_tapped_position(state, mnist_small, module_tmp):
    """An 8-D code: under the image, each of the 8 dimensions swept alone from −3σ to +3σ of the
    dataset's codes around the shown position's code, row by row (Keras's pixels); a 2-D code has
    none (its plane is the code)."""
    import keras

    import aereport
    from aereport.latent import traversal_codes
    from aereport.sprites import grid

    keras.utils.set_random_seed(2)
    enc = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(8)])
    dec = keras.Sequential([keras.Input((8,)), keras.layers.Dense(784, activation="sigmoid"),
                            keras.layers.Reshape((28, 28))])
    report = aereport.explore(mnist_small.images[:500], encoder=enc, decoder=dec, layouts=("ae",),
                              run_dir=module_tmp / "wide", loss="mse")
    view = DecoderView(state=report.state)
    view.__panel__()
    for x, y in ((0.0, 0.0), (1.5, -0.5)):
        view.param.update(x=x, y=y)
        latent = report.state.latent
        z = latent.code_at("ae", x, y)[0]
        dims = np.argsort(-latent.codes.std(axis=0), kind="stable")[:8]  # the 8 widest-spread
        codes = traversal_codes(z, latent.codes.std(axis=0)[dims], dims)
        expected = grid(dec.predict(codes, verbose=0), columns=9)
        np.testing.assert_allclose(view.traversal.images(), expected, atol=1e-5)
        assert np.ptp(codes[:9, dims[0]]) == pytest.approx(6 * latent.codes.std(axis=0)[dims[0]], rel=1e-5)
    assert DecoderView(state=state).traversal is None  # the trained run's code is 2-D
