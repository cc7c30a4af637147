"""What the Explore tab explores, without a UI (aereport.exploration), and its view drawing what was
set before it was drawn."""
from __future__ import annotations

import shutil

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import GlyphRenderer, Plot

from aereport.exploration import GRID_MAX, Exploration
from aereport.report import load_state
from aereport.views import ExploreView


@pytest.fixture(scope="module")
def state(trained_run, module_tmp):
    run = module_tmp / "run"
    shutil.copytree(trained_run, run)
    return load_state(str(run))


def test_select_filter_and_table(state):
    ex = Exploration(state=state)
    assert ex.labels == [str(i) for i in range(10)] and ex.visible is None
    xy = state.layouts["pca"]
    box = (*np.percentile(xy, 20, axis=0), *np.percentile(xy, 80, axis=0))
    ex.select("pca", box=box)
    inside = np.flatnonzero((xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3]))
    assert ex.selection.tolist() == inside.tolist()
    ex.picked = int(np.flatnonzero(state.labels == 5)[0])
    ex.labels = ["3", "8"]  # narrows the selection, and drops a picked sample it hides
    assert set(state.labels[ex.selection]) <= {3, 8} and ex.picked is None
    table = ex.selection_table()
    assert table["index"].tolist() == ex.selection.tolist() and list(table.columns)[:2] == ["index", "label"]
    image, caption = ex.selection_grid()
    assert caption.startswith(f"{len(ex.selection):,} selected") and image.shape == (10 * 29 - 1, 10 * 29 - 1)
    ex.clear()
    assert ex.selection is None and ex.selection_grid()[1].startswith("no selection")
    with pytest.raises(ValueError):
        ex.labels = ["../../etc/passwd"]
    with pytest.raises(ValueError):
        ex.picked = len(state.dataset)  # no such sample


def test_neighbours_are_searched_once_per_pick(state, monkeypatch):
    ex = Exploration(state=state, picked=42)
    calls = []
    search = type(state).neighbours
    monkeypatch.setattr(type(state), "neighbours", lambda self, i, k: calls.append(i) or search(self, i, k))
    strips = ex.neighbour_strips()
    ex.neighbours(), ex.neighbour_strips()
    assert calls == [42] and set(strips) == {"pixels", *state.layouts}
    assert strips["pixels"][1] == f"#42 (label {ex.label(42)}) and its 8 nearest in pixel space"
    assert "are pixel-space neighbours too" in strips["pca"][1]


def test_what_is_set_before_the_tab_is_drawn_shows_when_it_is(state):
    xy = state.layouts["pca"]
    view = ExploreView(state=state, labels=["1", "7"], picked=int(np.flatnonzero(state.labels == 7)[0]))
    view.exploration.hovered = 3  # before a page: its text widget exists already
    assert view._hover_text.value.startswith("#3 · label")
    view.exploration.select("pca", box=(*xy.min(axis=0), *xy.max(axis=0)))
    root = pn.panel(view).get_root(Document())
    grid = next(m for m in root.select({"type": GlyphRenderer}) if m.name == "selection-grid")
    assert grid.data_source.data["image"][0].shape == (10 * 29 - 1, 10 * 29 - 1)
    titles = {f.title.text for f in root.select({"type": Plot}) if f.title is not None and f.title.text}
    n = int(np.isin(state.labels, [1, 7]).sum())
    assert f"{n:,} selected (showing {GRID_MAX})" in titles
    assert any(t.startswith(f"#{view.exploration.picked} (label 7)") for t in titles)
