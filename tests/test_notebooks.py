"""Every notebook in notebooks/ runs top to bottom in a real kernel, on real MNIST, and shows its report
(training one epoch where a notebook says 8, as the README's test does)."""
from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import MNIST_DIR, ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PANEL_MIME = "application/vnd.holoviews_exec.v0+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_renders_its_report(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name}: outputs must be stripped in the repository"
    monkeypatch.setenv("AEREPORT_DATA_DIR", str(MNIST_DIR))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    shutil.copy(path, tmp_path / path.name)
    for cell in nb.cells:
        cell.source = cell.source.replace("epochs=8", "epochs=1")
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [c for c in nb.cells if c.cell_type == "code" and c.source.strip().endswith("report")]
    assert shown, "each notebook ends a cell with its report"
    for cell in shown:  # the report rendered as a live Panel object, not as a repr string
        assert any(PANEL_MIME in o.get("data", {}) for o in cell.outputs), cell.source
    exported = list(tmp_path.rglob("*report.html"))
    assert exported and exported[0].stat().st_size > 100_000
    # quiet: no TensorFlow start-up lines, no tqdm fallback warning; progress as tqdm's widget
    streams = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream")
    for noise in ("oneDNN", "absl::InitializeLog", "IProgress", "TqdmWarning"):
        assert noise not in streams, streams[-2000:]
    assert any(WIDGET_MIME in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), \
        "training shows tqdm's notebook bar (ipywidgets is in the notebook extra)"


def test_without_ipywidgets_a_kernel_gets_the_text_bar_and_no_warning(monkeypatch, recwarn):
    """tqdm.auto would pick its widget in any IPython kernel and warn "IProgress not found"."""
    import sys

    from tqdm.std import tqdm as text_bar

    from aereport._quiet import progress_bar

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # an import of it raises ImportError
    bar = progress_bar(total=2, disable=True)
    assert type(bar) is text_bar and not recwarn.list
