"""The vae preset served as a user would meet it: trained by the CLI, served with NumPy; the Decoder
tab samples the prior (Keras's pixels, anew on each click), the Training tab shows the KL each
latent dimension pays with its active units."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aereport.latent import mosaic
from aereport.store import Run
from aereport.variational import ACTIVE_KL, kl_per_dimension, prior_codes

from .bokeh_page import READ
from .conftest import aereport, assert_no_traceback, free_port, wait_for_port
from .test_browser import open_report, open_tab, wait_for


@pytest.fixture(scope="module")
def vae_served(module_tmp):
    run = module_tmp / "vae"
    aereport("train", "--run", run, "--preset", "vae", "--epochs", 1, "--layouts", "ae")
    port = free_port()
    with open(module_tmp / "serve.log", "w") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("aereport")), "serve", "--run", str(run),
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(proc, port, module_tmp / "serve.log")
        yield f"http://127.0.0.1:{port}/", run
        proc.terminate()
        proc.wait(20)
    assert_no_traceback(module_tmp / "serve.log")


def test_the_prior_is_sampled_anew_on_each_click_as_keras_decodes_it(vae_served, page):
    url, run = vae_served
    decoder = Run(run).load_autoencoder().decoder
    open_report(page, url)
    open_tab(page, "Decoder", "prior-samples")
    for seed in (0, 1, 2):
        expected = mosaic(np.asarray(decoder.predict_on_batch(prior_codes(16, 2, seed))).reshape(4, 4, 28, 28))

        def shown():
            d = page.evaluate(READ, "prior-samples")
            img = np.flipud(np.asarray(d["image"], np.float32).reshape(d["shape"]))
            return img.shape == expected.shape and np.abs(img - expected).max() <= 1e-5

        wait_for(page, shown)
        page.get_by_role("button", name="Sample the prior !").click()
    assert page.errors == []


def test_the_kl_of_each_dimension_and_its_active_units(vae_served, page):
    url, run = vae_served
    model = Run(run).load_autoencoder().model
    encoder = model.get_layer("encoder")
    mean, log_var = encoder.predict(_images(run), verbose=0)
    kl = kl_per_dimension(mean, log_var)
    open_report(page, url)
    open_tab(page, "Training", "kl-bars")
    bars = page.evaluate(READ, "kl-bars")
    np.testing.assert_allclose(bars["KL"], kl, rtol=1e-4, atol=1e-6)
    assert bars["unit"] == ["active" if v > ACTIVE_KL else "inactive" for v in kl]
    title = page.evaluate("() => [...Bokeh.documents[0].all_models].find((m) => m.type == 'Title' && "
                          "m.text.startsWith('KL divergence')).text")
    assert f"{int((kl > ACTIVE_KL).sum())} of 2 active" in title
    assert page.errors == []


def _images(run):
    from aereport.runs import dataset_for

    return dataset_for(Run(run)).images


def test_a_plain_autoencoder_shows_neither(served, page):
    url, _ = served
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    assert page.evaluate(READ, "prior-samples") is None
    open_tab(page, "Training", "sample-output")
    assert page.evaluate(READ, "kl-bars") is None


def test_zoomed_in_each_point_shows_its_mean_plus_minus_sigma(vae_served, page):
    """On the latent plane, once few points are in view, each gets the outline of its μ ± σ
    ellipse; pixel for pixel what aereport.views.plane.sigma_pixels draws of the run's σ."""
    from aereport.runs import dataset_for
    from aereport.sprites import Viewport
    from aereport.views.plane import SIGMA_AT, sigma_pixels

    from .test_browser import PLACED, zoom_in
    from .bokeh_page import LOCATE

    url, run = vae_served
    served = Run(run).load_autoencoder(numpy=True)
    images = dataset_for(Run(run)).images
    mean, sigma = served.encoder(images), np.exp(0.5 * served.encoder.log_var(images))
    open_report(page, url)
    open_tab(page, "Decoder", "decoder-marker")
    names = ["decoder-raster", "decoder-raster-sigma"]
    assert page.evaluate(READ, names[1])["shape"] == [1, 1]  # 5,000 points in view: none drawn
    page.mouse.move(*page.evaluate(LOCATE, [names[0], 0.5, 0.5]))
    x0, x1, y0, y1 = zoom_in(page, names)
    layer = page.evaluate(READ, names[1])
    h, w = layer["shape"]
    expected = sigma_pixels(mean[:, :2], sigma[:, :2], Viewport(x0, x1, y0, y1, w, h))
    assert expected is not None
    shown = np.flipud(np.asarray(layer["image"], np.uint32).reshape(h, w))
    assert np.array_equal(shown, np.ascontiguousarray(expected).view(np.uint32)[..., 0])
    assert page.errors == [] and SIGMA_AT >= 1
