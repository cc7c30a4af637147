"""What a variational autoencoder adds to a report: each image's σ beside its mean, the KL
divergence each latent dimension pays (and which dimensions are active), and samples from the
prior N(0, I).

A VAE here is a run of the ``vae`` preset: its encoder (NumPy :class:`~aereport.inference.Chain`
or Keras) gives ``[z_mean, z_log_var]``; positions come from the mean. Nothing here imports a UI
library.

>>> kl = kl_per_dimension(np.zeros((4, 2)), np.zeros((4, 2)))
>>> kl.tolist(), active_units(kl).tolist()
([0.0, 0.0], [False, False])
"""
from __future__ import annotations

import numpy as np

from ._validation import check_non_negative_int, check_positive_int

# A dimension whose mean KL stays below this carries (almost) nothing: "active units" (Burda et
# al., 2016, use a variance of 0.01; the KL form is the one keras.io's VAE readers meet).
ACTIVE_KL = 0.01


def log_variances(ae, images: np.ndarray, batch_size: int = 4096) -> np.ndarray | None:
    """Each image's ``z_log_var`` (n, d) from a VAE's encoder, or None for another autoencoder.

    >>> log_variances(state.ae, state.dataset.images[:8]).shape  # doctest: +SKIP
    (8, 2)
    """
    second = getattr(ae.encoder, "log_var", None)  # the NumPy runner's VAE head
    if second is None:
        inner = _keras_encoder(ae)
        if inner is None:
            return None
        second = lambda x: np.asarray(inner.predict_on_batch(x)[1])  # noqa: E731
    out = [second(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    if any(o is None for o in out):
        return None
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def _keras_encoder(ae):
    """The two-output encoder of a Keras VAE run (``model.get_layer("encoder")``), or None."""
    get = getattr(ae.model, "get_layer", None)
    try:
        encoder = get("encoder") if get else None
    except ValueError:
        return None
    return encoder if encoder is not None and len(getattr(encoder, "outputs", ())) == 2 else None


def kl_per_dimension(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """The mean over images of each dimension's KL divergence from N(0, 1):
    ``0.5 · (μ² + σ² − 1 − log σ²)``.

    >>> kl_per_dimension(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])).tolist()
    [0.5, 0.0]
    """
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return (0.5 * (mean ** 2 + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)


def active_units(kl: np.ndarray, threshold: float = ACTIVE_KL) -> np.ndarray:
    """Which dimensions are active: a mean KL above ``threshold``."""
    return np.asarray(kl) > threshold


def prior_codes(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` codes drawn from the prior N(0, I) of a ``dim``-D latent space (seeded: the same
    seed draws the same grid).

    >>> prior_codes(3, 2, seed=1).shape
    (3, 2)
    """
    n, dim = check_positive_int("n", n), check_positive_int("dim", dim)
    rng = np.random.default_rng(check_non_negative_int("seed", seed))
    return rng.standard_normal((n, dim)).astype(np.float32)
