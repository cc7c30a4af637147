"""2-D layouts of a whole dataset, as interchangeable estimators.

Each layout has the scikit-learn shape: ``__init__`` stores parameters, ``fit_transform(X)``
validates and computes, and the result is kept as ``embedding_`` (n, 2). Views know only that.

>>> import numpy as np
>>> PCALayout().fit_transform(np.random.default_rng(0).random((100, 8, 8))).shape
(100, 2)
"""
from __future__ import annotations

import functools
import os
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ._quiet import progress_bar
from ._validation import AEReportError, check_choice, check_positive_int
from .neighbours import flat, forget, neighbour_graph, principal_components, without_self

# umap and pynndescent compile with numba on first use (12–50 s); a persistent cache makes
# that a one-time cost per machine instead of per process.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "aereport" / "numba"))

LAYOUTS = ("ae", "umap", "tsne", "pca")
LAYOUT_TITLES = {"ae": "Autoencoder latent", "umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


# From this many points, with both UMAP and t-SNE to compute, UMAP runs in a child process beside
# t-SNE: seeded, umap-learn optimizes on one core (it forces n_jobs=1 to be reproducible) while
# openTSNE's gradients use every core, and the two share no state but the neighbour graph. At 70k
# on 2 cores: both in 86 s instead of 103 s one after the other (BENCHMARKS.md). Below it, the
# child's start (its imports, ~3 s) costs more than the overlap gains.
SIDE_BY_SIDE_MIN = 20_000


class PCALayout:
    """The first two principal components of the flattened pixels.

    >>> PCALayout().fit_transform(np.eye(5)).shape
    (5, 2)
    """

    name = "pca"

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit_transform(self, X) -> np.ndarray:
        X = flat(X)
        self.embedding_ = principal_components(X, 2, self.random_state)
        if self.embedding_.shape[1] < 2:  # a 1-pixel dataset still gets a plane
            self.embedding_ = np.column_stack([self.embedding_[:, 0], np.zeros(len(X), np.float32)])
        return self.embedding_

    def cache_key(self, n: int) -> str:
        return f"pca:n={n}:seed={self.random_state}"


class LatentLayout:
    """The encoder's latent codes; a latent space wider than 2 is shown through its PCA.

    >>> from aereport.model import build_autoencoder
    >>> LatentLayout(build_autoencoder((4, 4)).encoder).fit_transform(np.zeros((3, 4, 4))).shape
    (3, 2)
    """

    name = "ae"

    def __init__(self, encoder, version: str = ""):
        self.encoder = encoder
        self.version = version

    def fit_transform(self, X) -> np.ndarray:
        from .model import encode

        z = encode(self.encoder, np.asarray(X, np.float32))
        self.embedding_ = z if z.shape[1] == 2 else PCALayout().fit_transform(z) if z.shape[1] > 2 \
            else np.column_stack([z[:, 0], np.zeros(len(z), np.float32)])
        return self.embedding_

    def cache_key(self, n: int) -> str:
        return f"ae:n={n}:model={self.version}"


def import_umap():
    """umap-learn, without the TensorFlow its package imports for ``ParametricUMAP``.

    ``import umap`` imports TensorFlow and Keras whenever they are installed (they are, here), for
    a class no layout uses: 4 s and ~480 MB of every process that only computes layouts (the
    CLI's ``layouts``, a server's background layouts, UMAP's process beside t-SNE). Blocking the
    one submodule makes umap-learn take its own "TensorFlow not installed" path; unblocked after,
    so ``from umap.parametric_umap import ParametricUMAP`` still works in the same process.

    >>> import_umap().UMAP.__name__
    'UMAP'
    """
    if "umap" in sys.modules or "tensorflow" in sys.modules:  # no import left to save
        import umap

        _cache_umap_kernels()  # a process that trained holds TensorFlow: its UMAP compiles as well
        return umap
    sys.modules["umap.parametric_umap"] = None  # importing it now raises ImportError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            import umap
    finally:
        del sys.modules["umap.parametric_umap"]
    _cache_umap_kernels()
    return umap


# umap-learn's kernels that a layout from a given neighbour graph compiles, and which it does not
# ask numba to cache: ~4.5 s of every process's first UMAP (BENCHMARKS.md "Layouts"; its
# epoch kernel, jitted anew on each call, cannot be). Numba keys a cached kernel by its source
# file's stamp and its signature, so a new umap-learn recompiles.
UMAP_KERNELS = {"umap.umap_": ("smooth_knn_dist", "compute_membership_strengths")}


def _cache_umap_kernels() -> None:
    from numba.core.caching import NullCache

    for module, names in UMAP_KERNELS.items():
        for name in names:
            kernel = getattr(sys.modules.get(module), name, None)
            # Only before its first compile: a dispatcher given a cache later keeps what it has.
            if isinstance(getattr(kernel, "_cache", None), NullCache) and not kernel.signatures:
                kernel.enable_caching()


class UMAPLayout:
    """umap-learn's UMAP over the first ``pca`` principal components (0: raw pixels).

    >>> UMAPLayout(n_neighbors=5).fit_transform(np.random.rand(50, 16)).shape  # doctest: +SKIP
    (50, 2)
    """

    name = "umap"

    def __init__(self, n_neighbors: int = 15, min_dist: float = 0.1, pca: int = 50, random_state: int = 0):
        self.n_neighbors = check_positive_int("n_neighbors", n_neighbors)
        self.min_dist = float(min_dist)
        self.pca = pca
        self.random_state = random_state

    def fit_transform(self, X) -> np.ndarray:
        return self.fit_graph(*neighbour_graph(X, self.pca, self.random_state))

    def fit_graph(self, X: np.ndarray, idx: np.ndarray | None, dist: np.ndarray | None) -> np.ndarray:
        """The layout of features ``X`` given their nearest neighbours (see :func:`neighbour_graph`)."""
        umap = import_umap()
        k = min(self.n_neighbors, len(X) - 1)
        knn = (idx[:, :k], dist[:, :k], None) if idx is not None and k <= idx.shape[1] else (None,) * 3
        reducer = umap.UMAP(n_neighbors=k, min_dist=self.min_dist, random_state=self.random_state, n_jobs=1,
                            precomputed_knn=knn)
        with warnings.catch_warnings():
            # Without NN-descent's index UMAP cannot place *new* points; a layout never does.
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            self.embedding_ = reducer.fit_transform(X).astype(np.float32)
        return self.embedding_

    def cache_key(self, n: int) -> str:
        return f"umap:n={n}:k={self.n_neighbors}:d={self.min_dist}:pca={self.pca}:seed={self.random_state}"


class _NumpyWithScipyFFT(types.ModuleType):
    """NumPy, but for its ``fft`` module SciPy's transforms on ``workers`` threads."""

    def __init__(self, workers: int):
        import scipy.fft

        super().__init__("numpy")
        self.fft = types.SimpleNamespace(**{name: functools.partial(getattr(scipy.fft, name), workers=workers)
                                            for name in ("fft", "ifft", "rfft2", "irfft2")})

    def __getattr__(self, name):
        return getattr(np, name)


def opentsne_fft_by_scipy(workers: int) -> None:
    """Have openTSNE's FFT gradients transform with ``scipy.fft`` on ``workers`` threads.

    openTSNE's wheels multiply by the kernel through ``numpy.fft`` (its ``matrix_mul`` module
    looks up ``np.fft.rfft2`` at each call), on one thread. Its grid grows with the embedding,
    to ~1200 × 1200 at 70k points, where nine transforms are half of each late iteration; SciPy's
    pocketfft does the same transforms in about half the time on one thread, and splits them over
    several. t-SNE of full MNIST alone: 70.5 → 54.2 s, the same quality (BENCHMARKS.md "Layouts").
    The result does not depend on ``workers``, but differs from NumPy's in the last bits, which
    t-SNE's iterations amplify: the same layout up to such differences, not the same array.

    >>> opentsne_fft_by_scipy(2)
    """
    from openTSNE._matrix_mul import matrix_mul

    matrix_mul.np = _NumpyWithScipyFFT(workers)


class TSNELayout:
    """t-SNE by openTSNE (FFT-accelerated gradients) over the first ``pca`` principal components.

    openTSNE was chosen over scikit-learn's ``TSNE`` by measurement; see BENCHMARKS.md.
    ``n_iter`` counts the iterations after openTSNE's 250 of early exaggeration. Its default
    (250, openTSNE's is 500) is where the layout's neighbourhoods stop improving: from there on
    10-NN label accuracy and trustworthiness stay flat while the clusters only drift apart, and
    the other 250 iterations would be half of t-SNE's time at 70k points (BENCHMARKS.md
    "Layouts"). Pass ``n_iter=500`` for openTSNE's own schedule.

    >>> TSNELayout(perplexity=5).fit_transform(np.random.rand(60, 16)).shape  # doctest: +SKIP
    (60, 2)
    """

    name = "tsne"

    def __init__(self, perplexity: float = 30.0, pca: int = 50, random_state: int = 0, n_iter: int = 250):
        self.perplexity = float(perplexity)
        self.pca = pca
        self.random_state = random_state
        self.n_iter = check_positive_int("n_iter", n_iter)

    def fit_transform(self, X) -> np.ndarray:
        from openTSNE import TSNE, affinity
        from openTSNE.nearest_neighbors import PrecomputedNeighbors

        X, idx, dist = neighbour_graph(X, self.pca, self.random_state)
        perplexity = min(self.perplexity, (len(X) - 1) / 3)
        k = min(len(X) - 1, int(3 * perplexity))  # openTSNE's own choice
        jobs = os.cpu_count() or 1
        opentsne_fft_by_scipy(jobs)
        affinities = None
        if idx is not None and k < idx.shape[1]:
            affinities = affinity.PerplexityBasedNN(perplexity=perplexity, n_jobs=jobs,
                                                    knn_index=PrecomputedNeighbors(*without_self(idx, dist, k)))
        tsne = TSNE(perplexity=perplexity, n_iter=self.n_iter, n_jobs=jobs, random_state=self.random_state,
                    verbose=False)
        self.embedding_ = np.asarray(tsne.fit(X, affinities=affinities), dtype=np.float32)
        return self.embedding_

    def cache_key(self, n: int) -> str:
        return (f"tsne:n={n}:perplexity={self.perplexity}:pca={self.pca}:seed={self.random_state}"
                f":iter={self.n_iter}")


def make_layout(name: str, encoder=None, model_version: str = ""):
    """The layout estimator called ``name`` ('ae', 'umap', 'tsne' or 'pca') with default parameters.

    >>> make_layout("pca").name
    'pca'
    """
    check_choice("layout", name, LAYOUTS)
    if name == "ae":
        if encoder is None:
            raise AEReportError("layout 'ae' needs the trained encoder", encoder=None)
        return LatentLayout(encoder, model_version)
    return {"umap": UMAPLayout, "tsne": TSNELayout, "pca": PCALayout}[name]()


def compute_layouts(images: np.ndarray, names: Iterable[str] = LAYOUTS, *, encoder=None,
                    model_version: str = "", cache: dict | None = None,
                    on_done: Callable[[str, dict], None] | None = None,
                    on_start: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Compute (or take from ``cache``) each named layout of ``images``.

    Parameters
    ----------
    images : (n, ...) array of the whole dataset
    names : which layouts, from ``LAYOUTS``
    encoder : the trained encoder, needed for 'ae'
    model_version : identifies the encoder's weights, so a retrained model invalidates 'ae'
    cache : ``{name: {"xy", "key"}}`` from an earlier call (a run's ``load_layouts()``)
    on_start, on_done : called around each layout that is computed (for progress and saving)

    Returns ``{name: {"xy": (n, 2) float32, "key": str, "seconds": float}}``.

    >>> compute_layouts(np.random.rand(20, 4, 4), ["pca"])["pca"]["xy"].shape
    (20, 2)
    """
    cache = dict(cache or {})
    out = {}
    try:
        _compute(images, names, encoder, model_version, cache, out, on_start, on_done)
    finally:
        forget()  # the neighbour graph is shared by this call's layouts only
    return out


def _compute(images, names, encoder, model_version, cache, out, on_start, on_done) -> None:
    todo = []
    for name in names:
        layout = make_layout(name, encoder, model_version)
        key = layout.cache_key(len(images))
        if name in cache and cache[name].get("key") == key and len(cache[name]["xy"]) == len(images):
            out[name] = cache[name]
        else:
            todo.append((layout, key))

    def done(name, key, xy, start):
        out[name] = {"xy": xy, "key": key, "seconds": time.perf_counter() - start}
        if on_done:
            on_done(name, out[name])

    worker = None
    if ({"umap", "tsne"} <= {layout.name for layout, _ in todo} and len(images) >= SIDE_BY_SIDE_MIN
            and (os.cpu_count() or 1) > 1):
        umap_layout, umap_key = next(item for item in todo if item[0].name == "umap")
        todo.remove((umap_layout, umap_key))
        if on_start:
            on_start("umap")
        umap_start = time.perf_counter()
        worker, future = _start_beside(umap_layout, images)
    try:
        for layout, key in todo:
            if on_start:
                on_start(layout.name)
            start = time.perf_counter()
            done(layout.name, key, layout.fit_transform(images), start)
        if worker:
            done("umap", umap_key, future.result(), umap_start)
    finally:
        if worker:
            worker.close(kill=True)  # an error here: UMAP's process is not waited for


def _start_beside(layout: "UMAPLayout", images: np.ndarray):
    """``layout.fit_graph`` of the images' neighbour graph in a fresh process at this one's
    priority: (the worker, the future of its result)."""
    from .background import Worker

    graph = neighbour_graph(images, layout.pca, layout.random_state)
    worker = Worker(nice=0, keep_alive=False)
    return worker, worker.submit(layout.fit_graph, *graph)


class LayoutProgress:
    """A tqdm bar over the layouts still to compute, naming those under way, and a line for each
    layout as it is done with the time it took; pass ``**progress.callbacks`` to
    :func:`aereport.runs.ensure_layouts` or :meth:`aereport.state.ReportState.open`.

    >>> with LayoutProgress(["ae", "umap"], run.load_layouts()) as progress:  # doctest: +SKIP
    ...     ReportState.open(run.path, **progress.callbacks)
    """

    def __init__(self, names, cached):
        names = list(names)
        self.bar = progress_bar(total=len(names), initial=sum(n in cached for n in names), desc="layouts",
                        unit="layout")
        self._started: dict[str, float] = {}  # under way: UMAP's child beside t-SNE makes two at once
        self.callbacks = dict(on_start=self._start, on_done=self._done)

    def _start(self, name: str) -> None:
        self._started[name] = time.perf_counter()
        self.bar.set_description("layout " + ", ".join(self._started))

    def _done(self, name: str, *_) -> None:
        took = time.perf_counter() - self._started.pop(name, time.perf_counter())
        self.bar.write(f"layout {name}: {LAYOUT_TITLES[name]} in {took:.1f} s", file=sys.stderr)
        self.bar.set_description("layout " + ", ".join(self._started) if self._started else "layouts")
        self.bar.update(1)

    def __enter__(self) -> "LayoutProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
