"""The report: Embeddings, Decoder, Training and Explore tabs over one shared run, and the two ways in.

:func:`explore` turns arrays (and optionally a user's own trained encoder and decoder) into a
report; :func:`open` shows a run directory. A served process loads each run once
(:func:`load_state`) and every browser session builds its own :class:`Report` over that state.

>>> report = explore(images, labels)  # doctest: +SKIP
>>> report.servable()                 # doctest: +SKIP
"""
from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import panel as pn

from ._validation import AEReportError, check_names, check_positive_int
from .data import Dataset
from .runs import ensure_default_run
from .state import ReportState
from .views import DecoderView, EmbeddingsView, ExploreView, TrainingView
from .views._base import StateView
from .views._workarounds import settle_soon
from .views.plane import warm_up_soon

RUN_ENV = "AEREPORT_RUN"
FACES_ENV, FACES_RUN_ENV = "AEREPORT_FACES", "AEREPORT_FACES_RUN"


@functools.lru_cache(maxsize=None)
def load_state(run_dir: str, safe_mode: bool = True) -> ReportState:
    """The process-wide :class:`ReportState` of ``run_dir`` (loaded on first use, then shared).

    >>> load_state("runs/mnist") is load_state("runs/mnist")  # doctest: +SKIP
    True
    """
    # The first visitor must not wait minutes for UMAP or t-SNE: they follow in the background,
    # nor seconds for Datashader's numba compiles (`panel serve --warm` loads the state before
    # the server listens, so those run while it starts).
    state = ReportState.open(run_dir, safe_mode=safe_mode, background=True)
    warm_up_soon(state.dataset)
    return state


def app_state(run_dir: str | os.PathLike | None = None, safe_mode: bool = True) -> ReportState:
    """The process-wide state an app serves: ``run_dir``, else ``$AEREPORT_RUN``, else the
    embedded sample's run (trained first if this machine has none yet).

    >>> EmbeddingsView(state=app_state()).servable()  # doctest: +SKIP
    """
    if run_dir is None:
        run_dir = default_run_dir()
        if RUN_ENV not in os.environ:
            ensure_default_run(run_dir)
    return load_state(str(Path(run_dir).expanduser()), safe_mode)


def faces_state() -> ReportState:
    """The face decoder's state: the run at ``$AEREPORT_FACES_RUN`` (default
    ``~/.cache/aereport/runs/faces``), trained first from the photographs in ``$AEREPORT_FACES``
    (e.g. CelebA's ``img_align_celeba``) if it holds no model yet.

    >>> DecoderView(state=faces_state(), drag=True).servable()  # doctest: +SKIP
    """
    from .runs import ensure_faces_run
    from .store import Run

    run_dir = os.environ.get(FACES_RUN_ENV) or str(Path.home() / ".cache" / "aereport" / "runs" / "faces")
    if not (Run.exists(run_dir) and Run(run_dir).has_model):
        folder = os.environ.get(FACES_ENV)
        if not folder:
            raise AEReportError(f"no face model at {run_dir}: set {FACES_ENV} to a folder of face photographs "
                                f"(e.g. CelebA's img_align_celeba) to train one, or {FACES_RUN_ENV} to a run",
                                **{FACES_ENV: folder})
        from .callbacks import ProgressBar

        ensure_faces_run(run_dir, folder, callbacks=[ProgressBar()])
    return load_state(str(Path(run_dir).expanduser()))


def default_run_dir() -> str:
    """``$AEREPORT_RUN``, else the embedded sample's run under ``~/.cache/aereport/runs``."""
    return os.environ.get(RUN_ENV) or str(Path.home() / ".cache" / "aereport" / "runs" / "mnist-sample")


class Report(StateView):
    """The whole report for one run: Embeddings, Decoder, Training and Explore tabs.

    >>> Report(state=load_state("runs/mnist"))  # doctest: +SKIP
    """

    def __init__(self, **params):
        super().__init__(**params)
        views = dict(state=self.state, status=self.status)
        self.embeddings = EmbeddingsView(**views)
        self.decoder = DecoderView(**views)
        self.training = TrainingView(**views)
        self.explore = ExploreView(**views)

    @classmethod
    def open(cls, run_dir: str | os.PathLike | None = None, safe_mode: bool = True) -> "Report":
        """A report over the shared state of ``run_dir`` (see :func:`app_state`)."""
        return cls(state=app_state(run_dir, safe_mode))

    def export(self, out: str | os.PathLike, fmt: str = "html") -> Path:
        """Write this report as one offline HTML file (or a folder with ``fmt="dir"``).

        >>> explore(images, labels).export("report.html")  # doctest: +SKIP
        """
        from .export import export_report

        return export_report(self.state, out, fmt=fmt)

    def __panel__(self) -> pn.viewable.Viewable:
        ds = self.state.dataset
        views = (self.embeddings, self.decoder, self.training, self.explore)
        # Only the tab on screen is in the document (Panel keeps the others' models, and puts them
        # back when their tab is opened again); a tab never opened is never built. Every plot
        # update ends in Bokeh recomputing the document's whole model graph, ~80 µs a model,
        # and each message in and out indexes every model: a zoom on the Decoder plane of a page
        # holding all four tabs (447 models) spent 40 of its 150 ms in the recompute alone
        # (BENCHMARKS.md, "Zoom").
        # A tab's view is made when the tab is first opened, not with the page: Tabs turns every
        # object it is given into its panel at once, and the three hidden tabs' were half of
        # building a page (BENCHMARKS.md, "Server start").
        names = ("Embeddings", "Decoder", "Training", "Explore")
        tabs = pn.Tabs(*((name, views[0] if i == 0 else pn.Column(sizing_mode="stretch_both"))
                         for i, name in enumerate(names)), dynamic=True, sizing_mode="stretch_both")

        opened = {tabs.active}  # the page's first tab is settled with the page (views' onload)

        def show(event=None):
            # Hidden tabs skip redraws for a new model and catch up when shown: when a training
            # ended, every session redrawing every tab at once kept all taps waiting.
            for index, view in enumerate(views):
                view.shown = tabs.active == index
            if tabs.active not in opened:  # built now: its objects out of full collections once made
                opened.add(tabs.active)
                tabs[tabs.active] = (names[tabs.active], views[tabs.active])
                settle_soon(pn.state.curdoc)
        tabs.param.watch(show, "active")
        show()
        self._follow_state()
        cfg = self.state.run.config
        header = pn.pane.Markdown(
            f"## aereport — {ds.name}\n{len(ds):,} images {'×'.join(map(str, ds.image_shape))} · "
            f"preset **{cfg.get('preset')}**, latent {cfg.get('latent_dim')}-D · run `{self.state.run.path}`",
            sizing_mode="stretch_width")
        return pn.Column(header, tabs, sizing_mode="stretch_both")


def open(run_dir: str | os.PathLike | None = None,  # noqa: A001  read as aereport.open(run_dir)
         layouts: Sequence[str] | None = None, safe_mode: bool = True) -> Report:
    """The report of a run directory, as the server shows it; display it in a notebook after
    ``pn.extension()``, or call ``.servable()`` / ``.export(path)``.

    ``layouts``: the layouts to show, computed (with a progress bar) and cached if missing; by
    default the ones the run already holds. Without ``run_dir``, the embedded sample's run.
    ``safe_mode=False`` loads a model holding Lambda layers (it runs the file's Python code:
    only for files you trust).

    >>> aereport.open("runs/mnist")  # doctest: +SKIP
    """
    if run_dir is None or layouts is None:
        return Report.open(run_dir, safe_mode)
    from .layouts import LAYOUTS, LayoutProgress
    from .store import Run

    names = list(dict.fromkeys(["ae", *check_names("layouts", layouts, LAYOUTS)]))
    try:
        cached = Run(run_dir).load_layouts()
    except AEReportError:
        cached = {}  # a damaged cache: the state says so and computes them again
    with LayoutProgress(names, cached) as progress:
        return Report(state=ReportState.open(run_dir, layouts=names, safe_mode=safe_mode,
                                             **progress.callbacks))


def explore(images, labels=None, *, encoder=None, decoder=None, autoencoder=None, bottleneck: str | None = None,
            code: str | None = None, log_var: str | None = None, image_shape: Sequence[int] | None = None,
            history=None, loss=None, input_scale: float | None = None,
            layouts: Sequence[str] = ("ae", "umap", "tsne"), label_names: Sequence[str] | None = None,
            name: str = "images", run_dir: str | os.PathLike | None = None, epochs: int = 20,
            config=None) -> Report:
    """A report over in-memory images: with your own trained ``encoder`` and ``decoder``, or
    training the default autoencoder when you pass neither.

    Parameters
    ----------
    images : (N, H, W) or (N, H, W, 3) array, uint8 or floats in [0, 1]; or a :class:`Dataset`
    labels : one int per image (optional); ``label_names`` names them
    encoder, decoder : trained ``keras.Model`` s; the code may have any size or shape (a code
        wider than 2 is shown through its PCA, and a tap decodes the mean code of the nearest
        samples; a feature map is flattened and reshaped back for the decoder)
    autoencoder, bottleneck : instead of both, ONE trained model and the name of its code's
        layer (found when one layer is clearly the narrowest)
    code, log_var : for an encoder with several outputs (a VAE's ``[z_mean, z_log_var, z]``),
        the output that places each image (found by name: ``z_mean``, ``mean``, ``mu``)
    image_shape : (H, W) or (H, W, C) when ``images`` come flat, (N, H*W*C)
    input_scale : 255 for a model trained on raw 0..255 pixels (the report's images are in
        [0, 1]; a decoder drawing far off that scale is refused with this suggestion)
    history : what your ``model.fit`` returned (or its ``.history``): the report shows its loss.
    loss : what Train optimises for your model (a Keras loss, e.g. ``"mse"``); by default the
        loss ``autoencoder=`` was compiled with. Without one (an encoder and a decoder given
        apart, a custom loss) the report does not train it, and says why
    layouts : which 2-D layouts to compute ('ae' is always included): 'ae', 'umap', 'tsne', 'pca'
    run_dir : where the run is kept (models, images, layouts); by default a folder under
        ``~/.cache/aereport/runs`` named by a fingerprint of the data and model, so running the
        same cell again reuses the trained model and the computed layouts
    epochs : training epochs when no model is given
    config : a :class:`aereport.training.TrainingConfig` for the model trained when none is given

    >>> import aereport, panel as pn
    >>> pn.extension()                                         # doctest: +SKIP
    >>> aereport.explore(x_test, y_test, encoder=enc, decoder=dec)  # doctest: +SKIP
    """
    from .callbacks import ProgressBar
    from .files import as_path
    from .autoencoder import model_version
    from .layouts import LAYOUTS, LayoutProgress
    from .own import check_loss, compiled_loss, from_models, split_autoencoder
    from .tfjs import export_problem
    from .runs import prepare_run
    from .store import Run
    from .training import TrainingConfig, adopt_run, user_history

    # Every argument checked before any work: a bad one costs nothing and leaves nothing.
    if not isinstance(name, str) or not name:
        raise AEReportError("name must be a non-empty str", name=name)
    epochs = check_positive_int("epochs", epochs)
    layouts = ["ae"] + [n for n in check_names("layouts", layouts, LAYOUTS) if n != "ae"]
    if config is not None and not isinstance(config, TrainingConfig):
        raise AEReportError("config must be an aereport.training.TrainingConfig", config=type(config).__name__)
    if run_dir is not None:
        run_dir = as_path(run_dir, "run_dir")
        if run_dir.exists() and not run_dir.is_dir():
            raise AEReportError("run_dir must be a folder", run_dir=str(run_dir))
    if image_shape is not None and not isinstance(images, Dataset):
        images = _unflatten(images, image_shape)
    dataset = images if isinstance(images, Dataset) else Dataset.from_arrays(
        images, labels, name=name, label_names=label_names, source="images")
    if loss is not None:
        loss = check_loss(loss)
    if autoencoder is not None:
        if encoder is not None or decoder is not None:
            raise AEReportError("pass autoencoder= (one model) or encoder= and decoder=, not both",
                                autoencoder=type(autoencoder).__name__)
        encoder, decoder = split_autoencoder(autoencoder, bottleneck)
        if loss is None:
            loss, not_trainable = compiled_loss(autoencoder)
        else:
            not_trainable = None
    elif bottleneck is not None:
        raise AEReportError("bottleneck= names a layer of autoencoder=, which is missing", bottleneck=bottleneck)
    elif encoder is not None and loss is None:  # a pair does not tell the loss it was trained with
        not_trainable = ("its encoder and decoder came apart, without the loss they were trained with (a VAE's KL "
                         "term, say): pass loss= to explore() to train them here, or train them in your code and "
                         "pass history= to show their loss")
    else:
        not_trainable = None
    if (encoder is None) != (decoder is None):
        raise AEReportError("pass both encoder= and decoder= (your trained models), or neither to train one",
                            encoder=type(encoder).__name__, decoder=type(decoder).__name__)
    if history is not None and encoder is None:
        raise AEReportError("history= is the loss of your own model; pass it with encoder= and decoder= or "
                            "autoencoder=", history=type(history).__name__)
    records = user_history(history) if history is not None else []
    ae = from_models(encoder, decoder, dataset.image_shape, code=code, log_var=log_var, loss=loss or "mse",
                     input_scale=input_scale, sample=dataset.images[:32]) if encoder is not None else None
    problem = export_problem(ae.decoder) if ae is not None else None
    if problem:
        warnings.warn(f"the decoder cannot be exported as a page (TF.js): {problem}; the served report and the "
                      "notebook run it with Keras", stacklevel=2)
    config = config or TrainingConfig()
    fingerprint = _fingerprint(dataset, model_version(ae) if ae else repr(config))
    run_dir = run_dir or Path.home() / ".cache" / "aereport" / "runs" / f"explore-{fingerprint}"

    if Run.exists(run_dir):
        # The same images and model (or training config) as the run there, or nothing is touched.
        held = Run(run_dir).config.get("fingerprint")
        # runs made before fingerprints were recorded: the adopted model, or the cache folder's name
        same = held == fingerprint or held is None and (
            Run(run_dir).config.get("adopted_model") == model_version(ae) if ae is not None
            else Path(run_dir).name == f"explore-{fingerprint}")
        if not same:
            raise AEReportError(f"run_dir={str(run_dir)!r} holds a run of other images or another model; "
                                "choose a new folder", run_dir=str(run_dir))
    if ae is not None:
        if not Run.exists(run_dir):
            Run.check_new(run_dir)
            adopt_run(run_dir, ae, dataset, seed=config.seed, extra={"fingerprint": fingerprint}, history=records,
                      not_trainable=not_trainable)
    else:
        if not Run.exists(run_dir):
            Run.check_new(run_dir)
        prepare_run(run_dir, dataset, config, epochs, callbacks=[ProgressBar()], keep_dataset=True,
                    extra={"fingerprint": fingerprint})
    with LayoutProgress(layouts, Run(run_dir).load_layouts()) as progress:
        # Your own model stays the one in memory: no round trip through Keras's safe-mode loader.
        state = ReportState.open(run_dir, dataset, layouts, ae=ae, **progress.callbacks)
    return Report(state=state)


def _unflatten(images, image_shape) -> np.ndarray:
    """Flat images, (N, H*W*C), given their ``image_shape``: a view, not a copy."""
    import math

    from .model import _shape

    shape = _shape(image_shape)
    arr = np.asarray(images)
    if arr.ndim != 2 or arr.shape[1] != math.prod(shape):
        raise AEReportError(f"image_shape={shape} needs flat images of shape (N, {math.prod(shape)})",
                            images_shape=arr.shape)
    return arr.reshape(len(arr), *shape)


def _fingerprint(dataset: Dataset, model: str) -> str:
    h = hashlib.sha1(np.ascontiguousarray(dataset.images).data)
    if dataset.labels is not None:
        h.update(np.ascontiguousarray(dataset.labels).data)
    h.update(model.encode())
    return h.hexdigest()[:12]


def serve(state, port: int = 5006, address: str = "127.0.0.1", allow_origin=None, show: bool = False):
    """Serve the report of a loaded :class:`~aereport.state.ReportState` until interrupted
    (``aereport serve``). Every browser session builds its own views over this one state.

    >>> serve(ReportState.open("runs/mnist", background=True))  # doctest: +SKIP
    """
    import sys

    origins = [f"{h}:{port}" for h in ("localhost", "127.0.0.1")] + list(allow_origin or [])
    print(f"aereport: serving {state.run.path} at http://{address}:{port}/", file=sys.stderr)
    warm_up_soon(state.dataset)  # Datashader's numba compiles, while it starts listening
    pn.serve({"/": lambda: Report(state=state)}, port=port, address=address, websocket_origin=origins,
             show=show, title="aereport", print_url=False)
