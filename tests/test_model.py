"""aereport.model: the presets' architectures, decoding, and their argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from aereport import AEReportError
from aereport.model import architecture, build_autoencoder, decode_at, encode, mse


def test_seed_preset_reproduces_the_tutorial():
    ae = build_autoencoder((218, 178), preset="seed")
    dense = [l for l in ae.encoder.layers + ae.decoder.layers if type(l).__name__ == "Dense"]
    assert [l.units for l in dense] == [128, 128, 2, 128, 128, 218 * 178]
    assert all(l.activation.__name__ == "linear" for l in dense)  # the seed's Dense layers have no activation
    assert ae.model.loss == "mse" and type(ae.model.optimizer).__name__ == "Adam"
    assert ae.decoder.output_shape == (None, 218, 178)


def test_dense_default_is_nonlinear_with_sigmoid_output():
    ae = build_autoencoder((28, 28))
    acts = [l.activation.__name__ for l in ae.decoder.layers if type(l).__name__ == "Dense"]
    assert acts == ["relu", "relu", "sigmoid"]
    out = np.asarray(ae.decoder(np.array([[100.0, -100.0]], np.float32)))
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("shape", [(218, 178), (64, 52, 3), (28, 28)])
def test_conv_preset_any_size(shape):
    ae = build_autoencoder(shape, preset="conv", n_layers=3)
    assert ae.decoder.output_shape[1:] == shape and ae.encoder.output_shape == (None, 2)
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    assert ae.model(x).shape == (2, *shape)


def test_decode_at_matches_the_decoder(mnist_small):
    ae = build_autoencoder((28, 28))
    img = decode_at(ae.decoder, 10, 50)  # the seed's example position
    ref = ae.decoder.predict(np.array([[10, 50]]), verbose=0)[0]
    assert img.shape == (28, 28) and np.allclose(img, ref, atol=1e-6)
    with pytest.raises(AEReportError, match="latent position must be finite"):
        decode_at(ae.decoder, np.nan, 1)
    wide = build_autoencoder((28, 28), latent_dim=3)
    with pytest.raises(AEReportError, match="2-D latent input. Received: latent_dim=3"):
        decode_at(wide.decoder, 0, 0)


def test_encode_and_mse_on_real_digits(mnist_small):
    ae = build_autoencoder((28, 28))
    z = encode(ae.encoder, mnist_small.images, batch_size=300)
    assert z.shape == (2000, 2) and np.isfinite(z).all()
    assert 0 < mse(ae.model, mnist_small.images[:100]) < 1


def test_architecture_rows():
    rows = architecture(build_autoencoder((28, 28), preset="seed"))
    assert [r["units"] for r in rows] == [784, 128, 128, 2, 128, 128, 784]
    assert rows[0]["part"] == "input" and rows[-1]["part"] == "output" and rows[3]["name"] == "latent"


@pytest.mark.parametrize("kwargs, message", [
    (dict(latent_dim=0), "latent_dim must be a positive integer. Received: latent_dim=0"),
    (dict(n_layers=-1), "n_layers must be a positive integer"),
    (dict(n_units=2.5), "n_units must be a positive integer"),
    (dict(preset="gan"), "preset must be one of"),
    (dict(preset="vae", beta=-1), "beta must be a number >= 0"),
])
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(AEReportError, match=message):
        build_autoencoder((28, 28), **kwargs)
    with pytest.raises(AEReportError, match="img_shape must be"):
        build_autoencoder((28,))
