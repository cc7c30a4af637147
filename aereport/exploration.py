"""What the Explore tab explores, without a UI: the label filter, the selection, the picked sample
and its neighbours, the hovered sample — and what each shows (images, captions, a table).

The Explore tab's view (``aereport.views.explore``) draws it and sets it from the pointer; a
notebook or a test drives it alone, and whatever is set before a page is drawn shows when it is.

>>> ex = Exploration(state=ReportState.open("runs/mnist"), labels=["3", "8"])  # doctest: +SKIP
>>> ex.select("umap", box=(-1, -1, 1, 1)); len(ex.selection)                    # doctest: +SKIP
412
"""
from __future__ import annotations

import numpy as np
import param

from .layouts import LAYOUT_TITLES
from .sprites import grid
from .state import ReportState

GRID_MAX = 100  # selected images shown in the grid (evenly spaced over the selection)


class Exploration(param.Parameterized):
    """The linked selection, label filter, picked and hovered samples over one run's layouts.

    Parameters are the state a person changes; methods say what it shows: :meth:`hover_card`,
    :meth:`selection_grid`, :meth:`neighbour_strips`, :meth:`selection_table`.
    """

    state = param.ClassSelector(class_=ReportState, constant=True, doc="The run being explored")
    labels = param.ListSelector(default=[], doc="The labels shown on every pane")
    selection = param.Array(default=None, allow_None=True, doc="Indices of the selected samples")
    picked = param.Integer(default=None, allow_None=True, doc="The sample whose neighbours are shown")
    hovered = param.Integer(default=None, allow_None=True, doc="The sample under the pointer")
    k = param.Integer(default=8, bounds=(1, 32), constant=True, doc="How many neighbours to show")

    def __init__(self, **params):
        super().__init__(**params)
        names = self.state.dataset.categories
        self.param.labels.objects = names
        self.param.labels.check_on_set = True  # declared without objects, it would accept anything
        self.labels = list(self.labels or names)  # checked now: given before the objects were known
        self.param.picked.bounds = self.param.hovered.bounds = (0, len(self.state.dataset) - 1)
        self._found: tuple = (None, None)  # ((picked, version, layouts), its neighbours)

    @property
    def layouts(self) -> list[str]:
        """The layouts ready now, in the report's order."""
        return [n for n in LAYOUT_TITLES if n in self.state.layouts]

    @property
    def visible(self) -> np.ndarray | None:
        """Which samples pass the label filter (None: all)."""
        names = self.state.dataset.categories
        if self.state.labels is None or set(self.labels) >= set(names):
            return None
        codes = [i for i, n in enumerate(names) if n in self.labels]
        return np.isin(self.state.labels, codes)

    def select(self, layout: str, box=None, polygon=None) -> None:
        """Select the shown samples inside ``box`` (x0, y0, x1, y1) or ``polygon`` on ``layout``."""
        index = self.state.latent.select(layout, box=box, polygon=polygon)
        visible = self.visible
        self.selection = index if visible is None else index[visible[index]]

    def clear(self, event=None) -> None:
        """Drop the selection."""
        self.selection = None

    @param.depends("labels", watch=True)
    def _filter(self):
        visible = self.visible
        if self.selection is not None and visible is not None:
            self.selection = self.selection[visible[self.selection]]
        if self.picked is not None and visible is not None and not visible[self.picked]:
            self.picked = None

    def neighbours(self) -> dict[str, np.ndarray]:
        """The picked sample's ``k`` nearest in pixel space and on each layout (one search per
        pick, model and set of layouts: the marks and the strips share it)."""
        key = (self.picked, self.state.version, tuple(self.layouts))
        if self._found[0] != key:
            self._found = (key, self.state.neighbours(self.picked, self.k))
        return self._found[1]

    # --- what it shows ----------------------------------------------------------------------------
    def label(self, i: int) -> str:
        """The display name of sample ``i``'s label ("–" without labels)."""
        return self.state.dataset.label_text(int(self.state.labels[i])) if self.state.labels is not None else "–"

    @staticmethod
    def space_title(space: str) -> str:
        return "Pixel space" if space == "pixels" else LAYOUT_TITLES[space]

    def blank(self, n: int = 1) -> np.ndarray:
        """``n`` white images of the dataset's shape."""
        return np.ones((n, *self.state.dataset.image_shape), np.float32)

    def hover_card(self) -> tuple[np.ndarray, str]:
        """The hovered sample's image and caption."""
        i = self.hovered
        if i is None:
            return self.blank()[0], "hover over a point"
        return self.state.dataset.images[i], f"#{i} · label {self.label(i)}"

    def selection_grid(self) -> tuple[np.ndarray, str]:
        """Up to ``GRID_MAX`` selected images (evenly spaced over the selection, in index order) in
        a 10-column grid, and a caption."""
        sel = self.selection if self.selection is not None else np.zeros(0, np.int64)
        shown = sel[np.unique(np.linspace(0, len(sel) - 1, min(len(sel), GRID_MAX)).round().astype(int))]
        # Always a full grid (blank tiles after the images): the figure keeps one shape.
        images = np.concatenate([self.state.dataset.images[shown], self.blank(GRID_MAX - len(shown))])
        if not len(sel):
            return grid(images), "no selection: drag a box or lasso on any pane"
        more = f" (showing {len(shown)})" if len(shown) < len(sel) else ""
        return grid(images), f"{len(sel):,} selected{more}"

    def neighbour_strips(self) -> dict[str, tuple[np.ndarray, str]]:
        """Per space ('pixels' and each layout): the picked sample and its ``k`` nearest, as one
        strip, and how many of them are also nearest in pixel space."""
        spaces = ["pixels", *self.layouts]
        if self.picked is None:
            blank = grid(self.blank(self.k + 1), columns=self.k + 1)
            return {space: (blank, f"{self.space_title(space)}: tap a point") for space in spaces}
        found, out = self.neighbours(), {}
        for space in spaces:
            strip = grid(self.state.dataset.images[[self.picked, *found[space]]], columns=self.k + 1)
            if space == "pixels":
                caption = f"#{self.picked} (label {self.label(self.picked)}) and its {self.k} nearest in pixel space"
            else:
                shared = len(np.intersect1d(found[space], found["pixels"]))
                caption = f"{self.space_title(space)}: {shared} of {self.k} are pixel-space neighbours too"
            out[space] = (strip, caption)
        return out

    def selection_table(self):
        """The selected samples as a DataFrame: index, label and their position on every layout."""
        import pandas as pd

        index = self.selection if self.selection is not None else np.zeros(0, np.int64)
        columns = {"index": index}
        if self.state.labels is not None:
            columns["label"] = [self.label(i) for i in index]
        for name in self.layouts:
            columns[f"{name}_x"], columns[f"{name}_y"] = self.state.layouts[name][index].T
        return pd.DataFrame(columns)
