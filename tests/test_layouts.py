"""aereport.layouts on real digits: each layout is a faithful 2-D map, and the cache is honoured."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from aereport import AEReportError
from aereport.layouts import LatentLayout, PCALayout, TSNELayout, UMAPLayout, compute_layouts, make_layout
from aereport.model import build_autoencoder


def knn_accuracy(xy, labels):
    return cross_val_score(KNeighborsClassifier(10), xy, labels, cv=3).mean()


@pytest.mark.parametrize("layout, floor", [(PCALayout(), 0.35), (UMAPLayout(), 0.85), (TSNELayout(), 0.85)])
def test_layouts_separate_real_digits(mnist_small, layout, floor):
    xy = layout.fit_transform(mnist_small.images)
    assert xy.shape == (2000, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert layout.embedding_ is xy
    assert knn_accuracy(xy, mnist_small.labels) > floor


def test_latent_layout_is_the_encoder_and_pca_for_wider_codes(mnist_small):
    ae = build_autoencoder((28, 28))
    xy = LatentLayout(ae.encoder).fit_transform(mnist_small.images[:50])
    assert np.allclose(xy, np.asarray(ae.encoder(mnist_small.images[:50])), atol=1e-5)
    wide = build_autoencoder((28, 28), latent_dim=5)
    assert LatentLayout(wide.encoder).fit_transform(mnist_small.images[:50]).shape == (50, 2)


def test_cache_is_reused_and_model_change_invalidates_ae(mnist_small):
    ae = build_autoencoder((28, 28))
    images = mnist_small.images[:300]
    started = []
    first = compute_layouts(images, ["pca", "ae"], encoder=ae.encoder, model_version="v1", on_start=started.append)
    assert started == ["pca", "ae"]
    started.clear()
    again = compute_layouts(images, ["pca", "ae"], encoder=ae.encoder, model_version="v1", cache=first,
                            on_start=started.append)
    assert started == [] and again["pca"] is first["pca"]
    compute_layouts(images, ["pca", "ae"], encoder=ae.encoder, model_version="v2", cache=first,
                    on_start=started.append)
    assert started == ["ae"]


def test_layout_errors():
    with pytest.raises(AEReportError, match="layout must be one of"):
        make_layout("isomap")
    with pytest.raises(AEReportError, match="needs the trained encoder"):
        make_layout("ae")
    with pytest.raises(AEReportError, match="at least 2 samples"):
        PCALayout().fit_transform(np.zeros((1, 4)))
