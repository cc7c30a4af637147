"""A served report is usable before UMAP and t-SNE exist: they follow from a background process."""
from __future__ import annotations

import shutil
import time

import numpy as np
import panel as pn
from bokeh.document import Document

from aereport.report import Report
from aereport.state import ReportState
from aereport.store import Run


def wait_until(condition, timeout=180):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def test_layouts_join_the_open_report_as_they_are_computed(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    run, expected = Run(run_dir), Run(trained_run).load_layouts()
    run.save_layouts({"ae": expected["ae"]}, None)  # a run with only its autoencoder layout

    start = time.perf_counter()
    state = ReportState.open(run_dir, layouts=["ae", "pca", "umap"], background=True)
    assert time.perf_counter() - start < 30  # no layout was computed before returning
    assert list(state.layouts) == ["ae"] and state.layouts_pending == ["pca", "umap"]

    report = Report(state=state)
    page = pn.panel(report)
    page.get_root(Document())
    page.select(pn.Tabs)[0].active = 1  # the Decoder tab opened too: a tab's view is made then
    buttons = page.select(pn.widgets.RadioButtonGroup)  # Embeddings' and Decoder's layout buttons
    assert [list(b.options) for b in buttons] == [["Autoencoder latent"]] * 2
    report.explore.__panel__()  # the Explore tab drawn before the layouts arrive
    assert report.embeddings.param.layout.objects == ["ae"]
    assert report.decoder.param.layout.objects == ["ae"]
    note = report.embeddings._pending_layouts()
    assert note.visible and note[1].value.startswith("Computing PCA in the background (UMAP next)")

    wait_until(lambda: "pca" in state.layouts)
    report.sync()  # what a served session is told to do when the shared state changes
    assert report.embeddings.param.layout.objects == ["ae", "pca"]
    assert [list(b.options) for b in buttons] == [["Autoencoder latent", "PCA"]] * 2
    assert note[1].value.startswith("Computing UMAP in the background:")
    np.testing.assert_allclose(state.layouts["pca"], expected["pca"]["xy"], atol=1e-4)

    wait_until(lambda: not state.layouts_pending)
    report.sync()
    assert report.embeddings.param.layout.objects == ["ae", "umap", "pca"]
    assert not note.visible and state.message == ""
    report.embeddings.layout = "umap"  # the new layout draws
    assert set(run.load_layouts()) == {"ae", "pca", "umap"}  # saved: the next start has them at once
    # The Explore tab grew a pane and a neighbour strip for each.
    assert report.explore.layouts == ["ae", "umap", "pca"] and len(report.explore._grid.objects) == 3
    report.explore.picked = 7
    strips = report.explore.neighbour_strips()
    assert set(strips) == {"pixels", "ae", "umap", "pca"} and "pixel-space neighbours" in strips["umap"][1]


def test_a_failed_background_layout_is_reported_and_the_rest_still_come(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    expected = Run(trained_run).load_layouts()
    Run(run_dir).save_layouts({"ae": expected["ae"]}, None)
    state = ReportState.open(run_dir, layouts=["ae"])
    (run_dir / "autoencoder.keras").write_bytes(b"not a model")  # the child process cannot load it
    state.compute_async(["pca"]).result(timeout=180)
    assert list(state.layouts) == ["ae"] and state.layouts_pending == []
    assert state.message.startswith("Layout PCA failed: ") and "autoencoder.keras: cannot load" in state.message
    assert "Traceback" not in state.message and "\n" not in state.message
