"""One PCA and one exact nearest-neighbour search of a dataset, shared by its UMAP and t-SNE.

>>> idx, dist = exact_neighbours(np.array([[0.0], [1.0], [3.0]]), 2)
>>> idx.tolist()
[[0, 1], [1, 0], [2, 1]]
"""
from __future__ import annotations

import hashlib

import numpy as np

from ._validation import AEReportError


def flat(X) -> np.ndarray:
    """``X`` as float32 rows, one per sample; at least two samples."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or len(X) < 2:
        raise AEReportError("a layout needs at least 2 samples as an (n, ...) array", shape=X.shape)
    return X.reshape(len(X), -1)


def principal_components(X: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """The first ``n_components`` principal components of the rows of ``X`` (fewer if it has fewer)."""
    from sklearn.decomposition import PCA

    k = min(n_components, X.shape[1], len(X))
    return PCA(k, random_state=seed).fit_transform(X).astype(np.float32)


# Up to this many points, UMAP and t-SNE share one exact neighbour search (one BLAS distance
# computation on the PCA features) instead of each running its own approximate one: UMAP's
# NN-descent compiles its numba code anew in every process (~30 s; the persistent cache does not
# hold it), and at 70k points the exact search takes ~12 s (BENCHMARKS.md). It grows with n²,
# so larger datasets keep the libraries' own searches.
EXACT_KNN_MAX = 100_000
SHARED_K = 91  # t-SNE's 3 × perplexity 30 neighbours plus the point itself; UMAP takes the first 15
_graph: dict = {}  # the last dataset's (fingerprint, pca, seed) -> (features, indices, distances)


def exact_neighbours(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows (itself first) and their Euclidean distances.

    >>> idx, dist = exact_neighbours(np.array([[0.0], [1.0], [3.0]]), 2)
    >>> idx.tolist(), dist.tolist()
    ([[0, 1], [1, 0], [2, 1]], [[0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    """
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors(X)
    return idx, dist.astype(np.float32)


def neighbour_graph(X, pca: int, seed: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(features, indices, distances)``: the first ``pca`` principal components of ``X`` (its
    flattened pixels when ``pca`` is 0; neighbour searches on 50 components instead of 784 pixels
    are several times faster and lose little) and, up to
    ``EXACT_KNN_MAX`` points, their ``SHARED_K`` exact nearest neighbours (else None, None).

    Kept for the last dataset seen, so UMAP and t-SNE of one dataset share one PCA and one search
    (:func:`forget` lets it go).
    """
    X = np.ascontiguousarray(flat(X))
    key = (hashlib.sha1(X.data).hexdigest(), X.shape, pca, seed)
    if key not in _graph:
        _graph.clear()
        features = principal_components(X, pca, seed) if pca else X
        knn = exact_neighbours(features, min(SHARED_K, len(X))) if len(X) <= EXACT_KNN_MAX else (None, None)
        _graph[key] = (features, *knn)
    return _graph[key]


def without_self(idx: np.ndarray, dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` neighbours of each row other than the row itself (a duplicate image can
    come first at distance 0).

    >>> without_self(np.array([[1, 0, 2], [1, 0, 2]]), np.zeros((2, 3)), 2)[0].tolist()
    [[1, 2], [0, 2]]
    """
    own = idx == np.arange(len(idx))[:, None]
    order = np.argsort(own, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)


def forget() -> None:
    """Let the kept graph go (~90 MB at 70k images) once its layouts are computed."""
    _graph.clear()
