"""The standalone report: ONE offline HTML file (or a folder) with the decoder running in TF.js.

Compute lives here — Datashader rasters of every layout as PNG, the decoder's TF.js weights, a
sample grid — and :mod:`aereport.views.static` lays them out as a Bokeh document; this module then
inlines every script, style and image so the file opens from ``file://`` and requests nothing.

>>> export_report("runs/mnist", "report.html")  # doctest: +SKIP
PosixPath('report.html')
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._validation import AEReportError, check_choice
from .store import atomic_path, check_writable, sweep

RASTER_PX = 1200
DENSITY_CMAP = ["#9ecae1", "#08306b"]  # unlabelled data: light where sparse, dark where dense
TFJS_FILE = Path("@tensorflow") / "tfjs" / "dist" / "tf.min.js"
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src data: blob:; worker-src blob:")


def find_tfjs() -> Path:
    """``tf.min.js`` from ``$AEREPORT_TFJS``, else an npm install under the project's ``tests/js``.

    >>> find_tfjs().name  # doctest: +SKIP
    'tf.min.js'
    """
    candidates = [Path(os.environ["AEREPORT_TFJS"])] if os.environ.get("AEREPORT_TFJS") else []
    candidates += [Path.cwd() / "node_modules" / TFJS_FILE,
                   Path(__file__).resolve().parents[1] / "tests" / "js" / "node_modules" / TFJS_FILE]
    for c in candidates:
        if c.is_file():
            return c
    raise AEReportError("TensorFlow.js not found: run `npm install @tensorflow/tfjs@4.22.0` here, or set "
                        "AEREPORT_TFJS to the path of tf.min.js")


def png_data_uri(rgba: np.ndarray) -> str:
    """An (H, W, 4) uint8 image as a ``data:image/png`` URI."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def raster(xy: np.ndarray, labels: np.ndarray | None, color_key: dict[str, str], names: list[str],
           px: int = RASTER_PX) -> tuple[str, tuple[float, float, float, float]]:
    """Datashade every point at ``px``×``px`` (sharp under moderate zoom): (PNG URI, x0, y0, x1, y1)."""
    import datashader as ds
    import datashader.transfer_functions as tf
    import pandas as pd

    codes = labels if labels is not None else np.zeros(len(xy), np.int64)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1],
                       "label": pd.Categorical.from_codes(codes, categories=names)})
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    pad = 0.02 * max(x1 - x0, y1 - y0, 1e-6)
    bounds = (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))
    canvas = ds.Canvas(plot_width=px, plot_height=px, x_range=(bounds[0], bounds[2]), y_range=(bounds[1], bounds[3]))
    if len(names) > 1:
        shaded = tf.shade(canvas.points(df, "x", "y", ds.count_cat("label")), color_key=color_key, min_alpha=90)
    else:  # as in the served view: one category shades as a density ramp
        shaded = tf.shade(canvas.points(df, "x", "y", ds.count()), cmap=DENSITY_CMAP)
    img = tf.dynspread(shaded, threshold=0.6, max_px=2)
    rgba = np.flipud(img.to_numpy().view(np.uint8).reshape(px, px, 4))  # datashader's row 0 is the bottom
    return png_data_uri(np.ascontiguousarray(rgba)), bounds


def decoder_payload(decoder) -> dict:
    """The decoder as TF.js LayersModel artifacts, weights base64-encoded, for ``tf.io.fromMemory``."""
    from .tfjs import save_tfjs

    with tempfile.TemporaryDirectory() as tmp:
        save_tfjs(decoder, tmp)
        manifest = json.loads((Path(tmp) / "model.json").read_text())
        group = manifest["weightsManifest"][0]
        data = b"".join((Path(tmp) / p).read_bytes() for p in group["paths"])
    return {"modelTopology": manifest["modelTopology"], "weightSpecs": group["weights"],
            "weightData": base64.b64encode(data).decode()}


def _script(code: str) -> str:
    # Inline scripts must not contain "</script" or the HTML parser ends them early.
    return "<script>" + code.replace("</script", "<\\/script") + "</script>"


def _drop_external_scripts(page: str) -> str:
    """Remove ``<script src=...>`` tags that point outside the file.

    Once Panel is imported in the process, Bokeh's bundle lists Panel's ES-module shim as a
    static URL even for documents with no Panel model; this report uses none, and an offline
    file must not ask for anything.
    """
    import re

    return re.sub(r'<script[^>]*\ssrc="(?!data:)[^"]*"[^>]*>\s*</script>', "", page)


def export_report(run, out: str | os.PathLike, fmt: str = "html", samples: int = 8,
                  safe_mode: bool = True) -> Path:
    """Write the run's report as one offline HTML file (``fmt="html"``) or a folder (``fmt="dir"``).

    Parameters
    ----------
    run : a trained run directory (layouts are computed and cached first if missing), or the
        :class:`~aereport.state.ReportState` of one already loaded
    out : the .html file, or the folder for ``fmt="dir"`` (``index.html``, ``decoder/``, ``tf.min.js``)
    fmt : ``"html"`` or ``"dir"``
    samples : how many inputs to show beside their reconstructions
    safe_mode : ``False`` loads a model holding Lambda layers (see ``Run.load_autoencoder``)

    >>> export_report("runs/mnist", "mnist-report.html")  # doctest: +SKIP
    """
    from .state import ReportState
    from .tfjs import save_tfjs
    from .views.static import static_report

    check_choice("format", fmt, ["html", "dir"])
    out = Path(out).expanduser()
    check_writable(out if fmt == "dir" else out.parent, str(out))  # before the work, not after it
    tfjs = find_tfjs()
    state = run if isinstance(run, ReportState) else ReportState.open(run, safe_mode=safe_mode)
    # A latent space wider than 2-D has no position -> code map the page could compute: ship one.
    field = None if state.direct else state.latent_field("ae")
    doc_html = _drop_external_scripts(static_report(state, samples=samples, field=field))
    payload = decoder_payload(state.ae.decoder)
    if field is not None:
        payload["field"] = {"bounds": field["bounds"], "size": field["size"],
                            "dim": int(field["codes"].shape[-1]), "codes": field["codes"].ravel().tolist()}
    runtime = (Path(__file__).parent / "views" / "static.js").read_text()
    # A hosted folder loads its scripts from the same origin; the single file needs nothing but itself.
    csp = CSP if fmt == "html" else CSP.replace("script-src", "script-src 'self'")
    head = [f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">',
            '<link rel="icon" href="data:,">']
    if fmt == "html":
        head += [_script(tfjs.read_text()), _script("window.AEREPORT_DECODER = " + json.dumps(payload) + ";"),
                 _script(runtime)]
        target = out
    else:
        target = out / "index.html"
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AEReportError(f"{out}: cannot create the output folder ({exc.strerror})") from None
        save_tfjs(state.ae.decoder, out / "decoder")
        with atomic_path(out / "tf.min.js") as tmp:
            shutil.copyfile(tfjs, tmp)
        with atomic_path(out / "decoder.js") as tmp:
            tmp.write_text("window.AEREPORT_DECODER = " + json.dumps(payload) + ";")
        head += ['<script src="tf.min.js"></script>', '<script src="decoder.js"></script>', _script(runtime)]
    i = doc_html.rindex("</head>")
    page = doc_html[:i] + "\n".join(head) + "\n" + doc_html[i:]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep(target)  # a killed export's half-written page
        with atomic_path(target) as tmp:
            tmp.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise AEReportError(f"{target}: cannot write the report ({exc.strerror})") from None
    return target
