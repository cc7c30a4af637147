"""aereport.layouts on real digits: each layout is a faithful 2-D map, and the cache is honoured."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from aereport import AEReportError
from aereport import layouts
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


def test_tsne_gradients_transform_with_scipy_fft(mnist_small, monkeypatch):
    """openTSNE's FFT gradients (from 10,000 points; Barnes-Hut below) run on SciPy's transforms
    (BENCHMARKS.md "Session 23"): the same gradients as NumPy's up to rounding, whatever the threads."""
    import scipy.fft
    from openTSNE import TSNE
    from openTSNE._matrix_mul import matrix_mul

    TSNELayout(perplexity=5).fit_transform(mnist_small.images[:60])
    assert isinstance(matrix_mul.np, layouts._NumpyWithScipyFFT)
    X = mnist_small.images[:500].reshape(500, -1)

    def tsne(numpy_module):
        monkeypatch.setattr(matrix_mul, "np", numpy_module)
        fit = TSNE(negative_gradient_method="fft", early_exaggeration_iter=10, n_iter=10, random_state=0)
        return np.asarray(fit.fit(X))

    workers = []
    real = scipy.fft.rfft2
    monkeypatch.setattr(scipy.fft, "rfft2", lambda *a, **k: workers.append(k["workers"]) or real(*a, **k))
    one, two = tsne(layouts._NumpyWithScipyFFT(1)), tsne(layouts._NumpyWithScipyFFT(2))
    assert set(workers) == {1, 2} and np.array_equal(one, two)
    assert np.allclose(one, tsne(np), rtol=1e-6, atol=1e-6 * np.abs(one).max())


def test_tsne_runs_n_iter_iterations_after_early_exaggeration_and_keys_its_layout_by_them(mnist_small, monkeypatch):
    """TSNELayout stops after 250 iterations past early exaggeration unless told otherwise
    (BENCHMARKS.md "Session 24"), and a layout cached at another count is computed anew."""
    from openTSNE import TSNEEmbedding

    phases = []
    optimize = TSNEEmbedding.optimize
    monkeypatch.setattr(TSNEEmbedding, "optimize", lambda self, n_iter, **kw: phases.append(n_iter) or
                        optimize(self, n_iter, **kw))
    images = mnist_small.images[:200]
    TSNELayout().fit_transform(images)
    TSNELayout(n_iter=500).fit_transform(images)
    assert phases == [250, 250, 250, 500]
    assert make_layout("tsne").n_iter == 250
    cached = {"tsne": {"xy": np.zeros((200, 2), np.float32), "key": TSNELayout(n_iter=500).cache_key(200)}}
    started = []
    compute_layouts(images, ["tsne"], cache=cached, on_start=started.append)
    assert started == ["tsne"]
    with pytest.raises(AEReportError, match="n_iter"):
        TSNELayout(n_iter=0)


def test_layout_errors():
    with pytest.raises(AEReportError, match="layout must be one of"):
        make_layout("isomap")
    with pytest.raises(AEReportError, match="needs the trained encoder"):
        make_layout("ae")
    with pytest.raises(AEReportError, match="at least 2 samples"):
        PCALayout().fit_transform(np.zeros((1, 4)))


def test_umap_and_tsne_share_one_exact_neighbour_search(mnist_small, monkeypatch):
    from aereport import neighbours

    calls = []
    search = neighbours.exact_neighbours
    monkeypatch.setattr(neighbours, "exact_neighbours", lambda X, k: calls.append((X.shape, k)) or search(X, k))
    images = mnist_small.images[:400]
    out = compute_layouts(images, ["umap", "tsne"])
    assert calls == [((400, 50), neighbours.SHARED_K)] and not neighbours._graph  # one search, then let go
    assert all(np.isfinite(out[name]["xy"]).all() for name in ("umap", "tsne"))  # quality: see above
    # Against brute force on the same PCA features: the true 15 nearest.
    features = neighbours.principal_components(images.reshape(400, -1), 50, 0)
    d = ((features[:, None] - features[None]) ** 2).sum(-1)
    idx, _ = search(features, 15)
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(np.argsort(d, 1, kind="stable")[:, :15], 1))


def test_a_duplicate_image_is_a_neighbour_the_image_itself_is_not():
    from aereport.neighbours import exact_neighbours, without_self

    X = np.array([[0.0], [0.0], [1.0], [5.0]])  # rows 0 and 1 are the same image
    idx, dist = without_self(*exact_neighbours(X, 3), 2)
    assert all(i not in row for i, row in enumerate(idx.tolist()))
    assert set(idx[0]) == {1, 2} and set(idx[1]) == {0, 2} and dist[0].tolist() == [0.0, 1.0]


def test_umap_beside_tsne_in_a_child_process_gives_the_same_layouts(mnist_small, monkeypatch):
    """A large dataset's UMAP runs in a child process while t-SNE runs here: the same layouts as
    one after the other, reported through the same callbacks (threshold lowered to 600 images)."""
    import aereport.layouts as layouts

    images = mnist_small.images[:600]
    alone = compute_layouts(images, ["umap", "tsne"])
    monkeypatch.setattr(layouts, "SIDE_BY_SIDE_MIN", 600)
    started, children = [], []
    real = layouts._start_beside
    monkeypatch.setattr(layouts, "_start_beside", lambda *a: children.append(r := real(*a)) or r)
    beside = compute_layouts(images, ["umap", "tsne"], on_start=started.append,
                             on_done=lambda name, entry: started.append(f"{name} done"))
    assert len(children) == 1 and children[0][1].done()  # UMAP did run in the child
    assert sorted(started) == ["tsne", "tsne done", "umap", "umap done"]
    for name in ("umap", "tsne"):
        np.testing.assert_array_equal(beside[name]["xy"], alone[name]["xy"])
        assert beside[name]["key"] == alone[name]["key"]


# A process's first UMAP: which of umap-learn's kernels numba compiled (not loaded from its cache).
FIRST_UMAP = """
{prelude}
import numpy as np
from numba.core import event
from aereport.layouts import UMAPLayout
with event.install_recorder("numba:compile") as rec:
    UMAPLayout(n_neighbors=5).fit_transform(np.random.default_rng(0).random((200, 16)))
print(sorted({e.data["dispatcher"].py_func.__name__ for _, e in rec.buffer if e.is_start}))
"""


@pytest.mark.parametrize("prelude", ["", "import tensorflow  # a process that trained first"])
def test_umap_kernels_compile_once_per_machine_not_once_per_process(tmp_path, prelude):
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    code = FIRST_UMAP.replace("{prelude}", prelude)
    first, second = (subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1] for _ in range(2))
    assert {"smooth_knn_dist", "compute_membership_strengths"} <= set(eval(first))
    assert not {"smooth_knn_dist", "compute_membership_strengths"} & set(eval(second)), second
