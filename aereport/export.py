"""The standalone report: ONE offline HTML file (or a folder) with the decoder running in TF.js.

:mod:`aereport.views.static` lays the report out as a Bokeh document (every layout's raster drawn
by the served planes' own operation); this module adds the decoder's TF.js weights and the page's
scripts, inlines everything so the file opens from ``file://`` and requests nothing, and writes it
where it may: never into a run, never over anything but a regular file, all of it or nothing.

>>> export_report("runs/mnist", "report.html")  # doctest: +SKIP
PosixPath('report.html')
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._validation import AEReportError, check_choice
from .files import as_path, atomic_path, check_writable, make_folder, sweep, write_bytes
from .store import Run, check_output

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
                        "AEREPORT_TFJS to the path of tf.min.js", AEREPORT_TFJS=os.environ.get("AEREPORT_TFJS"))


# Values in the exported page's field of codes: a 64×64 field for codes up to ~360-D; wider codes
# (a 7×7×32 feature map: 1,568-D) get a coarser field, so the page stays ~15 MB (BENCHMARKS.md).
FIELD_VALUES = 1_500_000


def field_size(latent_dim: int) -> int:
    """The side of the exported page's field of codes for a ``latent_dim``-D code: 64, or less for
    wide codes (at least 16).

    >>> field_size(8), field_size(1568)
    (64, 30)
    """
    return int(max(16, min(64, math.isqrt(FIELD_VALUES // max(int(latent_dim), 1)))))


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
    from .views.scripts import script
    from .views.static import static_report

    check_choice("format", fmt, ["html", "dir"])
    out = as_path(out, "out")
    if isinstance(run, ReportState):
        state = run
        check_output(out, state.run)
    else:
        check_output(out, Run(run))  # refused before minutes of work, not after them
    _check_target(out, fmt)
    check_writable(out if fmt == "dir" else out.parent, str(out))
    tfjs = find_tfjs()
    if not isinstance(run, ReportState):
        state = ReportState.open(run, safe_mode=safe_mode)
    # A latent space wider than 2-D has no position -> code map the page could compute: ship one.
    field = None if state.direct else state.latent.field("ae", field_size(state.ae.latent_dim))
    doc_html = _drop_external_scripts(static_report(state, samples=samples, field=field))
    payload = {**decoder_payload(state.ae.decoder), "image_shape": list(state.dataset.image_shape)}
    if state.ae.latent_dim > 2:  # the traversal the page sweeps around a tapped code
        payload["traversal"] = state.latent.traversal_spec()
    if field is not None:
        # float32 bytes in base64 (5.3 characters a value; JSON's decimals took ~19)
        codes = np.ascontiguousarray(field["codes"], "<f4").ravel()
        payload["field"] = {"bounds": field["bounds"], "size": field["size"], "dim": int(field["codes"].shape[-1]),
                            "codes": base64.b64encode(codes.tobytes()).decode()}
    # The decoder's data as JSON the runtime reads, not as code: "</" escaped so no "</script" ends it.
    data = ('<script type="application/json" id="aereport-decoder">'
            + json.dumps(payload).replace("</", "<\\/") + "</script>")
    scripts = [_script(script("math.js")), _script(script("runtime.js"))]
    # A hosted folder loads its scripts from the same origin; the single file needs nothing but itself.
    csp = CSP if fmt == "html" else CSP.replace("script-src", "script-src 'self'")
    head = [f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">',
            '<link rel="icon" href="data:,">', data]
    if fmt == "html":
        head += [_script(tfjs.read_text()), *scripts]
        target = out
    else:
        target = out / "index.html"
        make_folder(out)
        save_tfjs(state.ae.decoder, out / "decoder")
        with atomic_path(out / "tf.min.js") as tmp:
            shutil.copyfile(tfjs, tmp)
        head += ['<script src="tf.min.js"></script>', *scripts]
    i = doc_html.rindex("</head>")
    page = doc_html[:i] + "\n".join(head) + "\n" + doc_html[i:]
    make_folder(target.parent)
    sweep(target)  # a killed export's half-written page
    write_bytes(target, page.encode("utf-8"), "the report")
    return target


def _check_target(out: Path, fmt: str) -> None:
    """Refuse a target that is not a file of ours to replace (a device, a pipe, a folder where a
    file goes) or a folder that holds something else than an exported report."""
    if fmt == "html" and out.is_dir():
        raise AEReportError(f"out {out}: is a folder; expected the path of an .html file (or pass --format dir)",
                            out=str(out))
    if fmt == "dir" and out.exists() and not out.is_dir():
        raise AEReportError(f"out {out}: is a file; --format dir writes a folder", out=str(out))
    target = out if fmt == "html" else out / "index.html"
    if target.exists() or target.is_symlink():
        from .files import regular_file

        if target.is_symlink() or not target.is_file():
            regular_file(target, "a report file it may replace")  # names what it is
            raise AEReportError(f"out {target}: is a link; refused to replace it", out=str(target))
