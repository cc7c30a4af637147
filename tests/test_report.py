"""aereport.explore / aereport.open: a user's own Keras model (16-D code, flat input) and the default one."""
from __future__ import annotations

import keras
import numpy as np
import pytest

import aereport
from aereport import AEReportError
from aereport.latent import field_at
from aereport.store import Run


@pytest.fixture(scope="module")
def own_model(mnist_small):
    """A plain Keras autoencoder trained outside aereport: flat 784 inputs, a 16-D code."""
    keras.utils.set_random_seed(0)
    enc = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                            keras.layers.Dense(16)], name="user_encoder")
    dec = keras.Sequential([keras.Input((16,)), keras.layers.Dense(64, activation="relu"),
                            keras.layers.Dense(784, activation="sigmoid")], name="user_decoder")
    model = keras.Sequential([enc, dec])
    model.compile("adam", "mse")
    x = mnist_small.images.reshape(len(mnist_small), -1)
    model.fit(x, x, epochs=2, batch_size=128, verbose=0)
    return enc, dec


@pytest.fixture(scope="module")
def own_report(own_model, mnist_small, module_tmp):
    enc, dec = own_model
    return aereport.explore(mnist_small.images, mnist_small.labels, encoder=enc, decoder=dec,
                            layouts=("ae", "pca"), run_dir=module_tmp / "own")


def test_own_model_is_used_as_is(own_report, own_model, mnist_small):
    enc, _ = own_model
    state = own_report.state
    assert state.ae.latent_dim == 16 and not state.direct
    np.testing.assert_allclose(state.latent.codes[:50], enc(mnist_small.images[:50].reshape(50, -1)).numpy(), atol=1e-5)
    assert set(state.layouts) == {"ae", "pca"} and state.layouts["ae"].shape == (len(mnist_small), 2)


def test_a_tap_on_any_layout_decodes_the_blended_neighbour_code(own_report, own_model, mnist_small):
    _, dec = own_model
    state = own_report.state
    for layout in ("ae", "pca"):
        i = 123
        x, y = state.layouts[layout][i]
        image, how = state.latent.decode(layout, float(x), float(y))
        assert "nearest samples" in how
        z, _ = state.latent.code_at(layout, float(x), float(y))
        # on a sample, the blend is dominated by that sample's own code
        assert np.linalg.norm(z - state.latent.codes[i]) < 0.5 * np.linalg.norm(state.latent.codes[i])
        np.testing.assert_allclose(image, dec(z[None]).numpy().reshape(28, 28), atol=1e-5)
    own_report.decoder.param.update(layout="pca", x=0.0, y=0.0)
    assert "nearest samples" in own_report.decoder.method


def test_the_run_reopens_without_the_notebook(own_report, own_model):
    run_dir = own_report.state.run.path
    assert (run_dir / "dataset.npz").is_file()
    reopened = aereport.open(run_dir)
    assert set(reopened.state.layouts) == {"ae", "pca"}
    np.testing.assert_array_equal(reopened.state.dataset.labels, own_report.state.dataset.labels)
    np.testing.assert_allclose(reopened.state.dataset.images, own_report.state.dataset.images, atol=1e-7)
    # explore() again with the same model and folder reuses the run; another model is refused
    enc, dec = own_model
    again = aereport.explore(own_report.state.dataset.images, own_report.state.dataset.labels,
                             encoder=enc, decoder=dec, layouts=("ae",), run_dir=run_dir)
    assert again.state.run.path == run_dir
    other = keras.Sequential([keras.Input((784,)), keras.layers.Dense(16)])
    with pytest.raises(AEReportError, match="another model"):
        aereport.explore(own_report.state.dataset.images, encoder=other, decoder=dec, run_dir=run_dir)


def test_field_interpolates_the_neighbour_codes(own_report):
    state = own_report.state
    field = state.latent.field("ae", size=32)
    x0, y0, x1, y1 = field["bounds"]
    node = (x0 + 3 * (x1 - x0) / 31, y0 + 5 * (y1 - y0) / 31)  # a grid node: exact
    np.testing.assert_allclose(field_at(field, *node), state.latent.code_at("ae", *node)[0], atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(encoder="enc"), "pass both encoder= and decoder="),
    (dict(encoder="enc", decoder="enc"), "decoder expects inputs of shape"),
    (dict(encoder="wrong", decoder="dec"), "encoder expects inputs of shape"),
    (dict(encoder="enc", decoder="dec", layouts=("ae", "isomap")), "layouts must be among"),
])
def test_bad_models_get_one_clear_message(own_model, mnist_small, tmp_path, kwargs, message):
    enc, dec = own_model
    models = {"enc": enc, "dec": dec, "wrong": keras.Sequential([keras.Input((100,)), keras.layers.Dense(16)])}
    kwargs = {k: models.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(AEReportError, match=message):
        aereport.explore(mnist_small.images[:100], run_dir=tmp_path / "r", **kwargs)
    assert not Run.exists(tmp_path / "r")  # nothing half-made is left behind


def test_default_model_is_trained_when_none_is_given(mnist_small, tmp_path):
    from aereport.training import TrainingConfig

    report = aereport.explore(mnist_small.images[:600], mnist_small.labels[:600], layouts=("ae",),
                              run_dir=tmp_path / "default", epochs=1, config=TrainingConfig(batch_size=128))
    assert report.state.run.epochs_done == 1 and report.state.direct
    assert report.state.run.config["dataset"]["name"] == "array"
