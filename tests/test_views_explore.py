"""The explorer on full MNIST (70,000 digits) in headless Chromium: images on zoom, box selection
linked across layouts, the label filter, hover, nearest neighbours and the decoder's path strip."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from aereport.data import load_mnist
from aereport.model import decode_at
from aereport.store import Run
from aereport.report import load_state
from aereport.views.style import categories, color_key

from .conftest import MNIST_DIR, aereport, assert_no_traceback, free_port, wait_for_port
from .bokeh_page import (COUNT_REPAINTS, DATA_AT, LOCATE, MID_FLIGHT, RANGES, READ, SCREEN_AT, TITLE,
                         TRANSITION_SHOWN, TWO_FRAMES)
from .test_browser import assert_drawn_as_holoviews, assert_shown_whole, power4, splat, tap, wait_for, zoom_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.fixture(scope="module")
def full(module_tmp):
    """A 1-epoch model on all 70,000 MNIST digits with its latent and PCA layouts, served."""
    run = module_tmp / "full"
    aereport("train", "--run", run, "--dataset", "mnist", "--data-dir", MNIST_DIR, "--epochs", 1,
             "--layouts", "ae,pca")
    port = free_port()
    log = module_tmp / "serve.log"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("aereport")), "serve", "--run", str(run),
                             "--port", str(port)], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_for_port(proc, port, log)
    run = Run(run)
    yield f"http://127.0.0.1:{port}/", run, load_mnist(MNIST_DIR), run.load_layouts()
    proc.terminate()
    proc.wait(20)
    assert_no_traceback(log)


def open_tab(page, url, tab, renderer):
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=90000)
    if tab:
        page.get_by_text(tab, exact=True).first.click()
    wait_for(page, lambda: page.evaluate(READ, renderer), timeout=60)


def rgba(data) -> np.ndarray:
    """A raster read back from the page as (H, W, 4) uint8, row 0 at the top."""
    packed = np.asarray(data["image"], np.uint32).reshape(data["shape"])
    return np.flipud(packed.view(np.uint8).reshape(*packed.shape, 4))


def pixel_of(xy, data, shape):
    """Column and row of data positions on a raster read back from the page."""
    x0, y0, dw, dh = (data[k][0] for k in ("x", "y", "dw", "dh"))
    h, w = shape
    return (np.floor((xy[:, 0] - x0) / dw * w).astype(int), np.floor((y0 + dh - xy[:, 1]) / dh * h).astype(int))


def test_zooming_in_draws_each_digit_as_its_own_image(full, page):
    url, run, mnist, layouts = full
    open_tab(page, url, None, "embedding-raster")
    centre = page.evaluate(LOCATE, ["embedding-raster", 0.5, 0.5])
    page.mouse.move(*centre)

    xy = layouts["ae"]["xy"]

    def in_view(d):
        x0, y0, dw, dh = (d[k][0] for k in ("x", "y", "dw", "dh"))
        return np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x0 + dw) & (xy[:, 1] >= y0) & (xy[:, 1] <= y0 + dh))

    def alone(d):
        """Digits in view whose 28-pixel card overlaps no other card, away from the raster's edges."""
        inside = in_view(d)
        col, row = pixel_of(xy[inside], d, d["shape"])
        gap = np.maximum(np.abs(col[:, None] - col[None]), np.abs(row[:, None] - row[None]))
        np.fill_diagonal(gap, 99)
        keep = ((gap.min(axis=1) >= 30) & (col >= 14) & (row >= 14)
                & (col < d["shape"][1] - 14) & (row < d["shape"][0] - 14))
        return inside[keep], col[keep], row[keep]

    def zoomed():
        # One wheel step at a time, each once the server has drawn the last: on a busy machine
        # steps sent ahead of its answers zoomed past every view holding three lone digits.
        d = page.evaluate(READ, "embedding-raster-thumbnails")
        x0, x1, y0, y1 = page.evaluate(RANGES, "embedding-raster")
        drawn = d and np.allclose([d["x"][0], d["dw"][0], d["y"][0], d["dh"][0]], [x0, x1 - x0, y0, y1 - y0],
                                  rtol=1e-6, atol=1e-9)
        if not drawn and time.time() < wheeled[0] + 10:
            return None
        if not d:
            return None
        if d["shape"][0] > 1:
            assert len(in_view(d)) <= 1000  # thumbnails only where few enough points are in view
            if len(alone(d)[0]) >= 3:
                return d
        page.mouse.wheel(0, 120 if d["shape"][0] > 1 and len(in_view(d)) < 20 else -120)
        wheeled[0] = time.time()
        return None

    wheeled = [0.0]
    data = wait_for(page, zoomed, timeout=90)
    img = rgba(data)
    samples, col, row = alone(data)
    for j, sample in enumerate(samples[:20]):
        digit = mnist.images[sample]
        best = min(np.abs((img[r - 14:r + 14, c - 14:c + 14, 3].astype(float) - 150) / 105 - digit).max()
                   for r in (row[j] - 1, row[j], row[j] + 1) for c in (col[j] - 1, col[j], col[j] + 1))
        assert best < 0.03, f"the image drawn at sample {sample} is not that digit"
    assert page.errors == []


def test_box_selection_is_linked_across_layouts_and_filtered_by_label(full, page):
    url, run, mnist, layouts = full
    open_tab(page, url, "Explore", "explore-pca-detail")
    a, b = page.evaluate(LOCATE, ["explore-ae", 0.35, 0.35]), page.evaluate(LOCATE, ["explore-ae", 0.65, 0.65])

    def corners():
        return [page.evaluate(DATA_AT, ["explore-ae", *a]), page.evaluate(DATA_AT, ["explore-ae", *b])]

    def settled():
        # Where the drag's corners lie in data coordinates, once the pane holds still: read after
        # the drag, a pane that moved or re-ranged meanwhile put the box elsewhere.
        before = corners()
        page.wait_for_timeout(300)
        return before if before == corners() else None

    def steady():
        # Wait for the box's selection to land and hold.
        first = page.evaluate(TITLE, "selection-grid")
        page.wait_for_timeout(1000)
        return first if "selected" in first and first == page.evaluate(TITLE, "selection-grid") else None

    for attempt in range(3):
        box = wait_for(page, settled)
        page.mouse.move(*a)
        page.mouse.down()
        page.mouse.move(*b, steps=8)
        page.mouse.up()
        # On a busy machine a late re-render can re-range the pane between the reading and the
        # drag; then the box sent is not the one read, and the drag is made again.
        if corners() == box:
            break
    else:
        pytest.fail("the latent pane kept moving under three drags")
    (xa, ya), (xb, yb) = box
    caption = wait_for(page, steady, timeout=60)
    with page.expect_download() as download:
        page.get_by_text("Download selection (CSV)").click()
    sel = pd.read_csv(download.value.path())
    index = sel["index"].to_numpy()
    assert caption.startswith(f"{len(index):,} selected") and len(index) > 10

    # The selection is the samples inside the dragged box (within a pixel of its edges).
    xy = layouts["ae"]["xy"]
    px = abs(xb - xa) / 100
    inner = (xy[:, 0] > min(xa, xb) + px) & (xy[:, 0] < max(xa, xb) - px) & \
            (xy[:, 1] > min(ya, yb) + px) & (xy[:, 1] < max(ya, yb) - px)
    outer = (xy[:, 0] >= min(xa, xb) - px) & (xy[:, 0] <= max(xa, xb) + px) & \
            (xy[:, 1] >= min(ya, yb) - px) & (xy[:, 1] <= max(ya, yb) + px)
    missing, extra = set(np.flatnonzero(inner)) - set(index), set(index) - set(np.flatnonzero(outer))
    assert not missing and not extra, (f"box {box}: {len(index)} selected, {inner.sum()} inside, "
                                       f"{len(missing)} inside not selected, {len(extra)} outside selected")
    assert (sel["label"].astype(int).to_numpy() == mnist.labels[index]).all()

    # The same samples light up on the PCA pane: a solid dot at each one's PCA position, the rest veiled.
    def lit():
        d = page.evaluate(READ, "explore-pca-detail")
        return d if d["shape"][0] > 1 else None
    data = wait_for(page, lit)
    img = rgba(data)
    col, row = pixel_of(layouts["pca"]["xy"][index], data, img.shape[:2])
    ok = (col >= 0) & (row >= 0) & (col < img.shape[1]) & (row < img.shape[0])
    assert ok.mean() > 0.95
    assert (img[row[ok], col[ok], 3] == 255).mean() > 0.99
    assert (img[..., 3] == 255).sum() <= 9 * len(index)
    assert (img[..., 3] == 170).mean() > 0.5  # the veil over everything else

    # The grid shows the selected digits, first one first.
    grid = np.flipud(np.asarray(page.evaluate(READ, "selection-grid")["image"], np.float64).reshape(
        page.evaluate(READ, "selection-grid")["shape"]))
    assert np.abs(grid[:28, :28] - mnist.images[index[0]]).max() < 1e-6

    # The label filter applies to the selection (and to every pane).
    shown = sorted(set(sel["label"].astype(str)))
    page.get_by_role("button", name=shown[0], exact=True).first.click()
    left = int((sel["label"].astype(str) != shown[0]).sum())
    wait_for(page, lambda: page.evaluate(TITLE, "selection-grid").startswith(f"{left:,} selected")
             if left else "no selection" in page.evaluate(TITLE, "selection-grid"))

    # A zoom then redraws the PCA pane (the server's direct redraw) as HoloViews draws it: the
    # samples the filter leaves, under the selection lit among them.
    state = load_state(str(run.path))
    names = categories(state.dataset)
    visible = state.labels != names.index(shown[0])
    page.mouse.move(*page.evaluate(LOCATE, ["explore-pca", 0.5, 0.5]))
    pane = ["explore-pca", "explore-pca-detail"]
    assert_drawn_as_holoviews(page, pane, state, state.layouts["pca"], zoom_in(page, pane),
                              visible=visible, selected=index[visible[index]])
    assert page.errors == []


def test_hover_shows_the_nearest_sample_and_a_tap_its_neighbours(full, page):
    url, run, mnist, layouts = full
    open_tab(page, url, "Explore", "explore-ae-detail")
    xy = layouts["ae"]["xy"]
    target = int(np.argmin(np.abs(xy - np.median(xy, axis=0)).sum(axis=1)))
    # The first hover settles Bokeh's layout (the frame can grow a few pixels): aim after it.
    page.mouse.move(*page.evaluate(LOCATE, ["explore-ae", 0.5, 0.5]))
    wait_for(page, lambda: page.evaluate(TITLE, "hover-image").startswith("#"))
    page.wait_for_timeout(500)
    where = page.evaluate(SCREEN_AT, ["explore-ae", *map(float, xy[target])])
    for name in ("explore-ae-hover", "explore-pca-hover"):
        page.evaluate(COUNT_REPAINTS, name)
    page.mouse.move(where[0] - 5, where[1] - 5)
    page.mouse.move(*where, steps=3)
    i = int(cKDTree(xy).query(page.evaluate(DATA_AT, ["explore-ae", *where]))[1])
    wait_for(page, lambda: page.evaluate(TITLE, "hover-image") == f"#{i} · label {mnist.labels[i]}")
    hovered = np.flipud(np.asarray(page.evaluate(READ, "hover-image")["image"], np.float64).reshape(28, 28))
    assert np.abs(hovered - mnist.images[i]).max() < 1e-6
    # Every pane rings the sample, and the rings repaint alone: not the panes' rasters beneath.
    for layout in ("ae", "pca"):
        ring = wait_for(page, lambda: (r := page.evaluate(READ, f"explore-{layout}-hover"))["x"] and r)
        assert [ring["x"][0], ring["y"][0]] == pytest.approx(layouts[layout]["xy"][i], abs=1e-5)
    page.evaluate(TWO_FRAMES)
    for name in ("explore-ae-hover", "explore-pca-hover"):
        count = page.evaluate(f"() => window.repaints['{name}']")
        assert count["primary"] == 0 and count["overlays"] >= 1, (name, count)

    page.mouse.click(*where)
    title = wait_for(page, lambda: (t := page.evaluate(TITLE, "neighbours-pixels")).startswith("#") and t)
    j = int(title[1:].split(" ")[0])
    flat = mnist.images.reshape(len(mnist.images), -1)
    d = ((flat - flat[j]) ** 2).sum(axis=1)
    d[j] = np.inf
    expected = np.argsort(d, kind="stable")[:8]
    strip = np.flipud(np.asarray(page.evaluate(READ, "neighbours-pixels")["image"], np.float64).reshape(
        page.evaluate(READ, "neighbours-pixels")["shape"]))
    for slot, k in enumerate([j, *expected]):
        assert np.abs(strip[:, slot * 29: slot * 29 + 28] - mnist.images[k]).max() < 1e-6
    assert " of 8 are pixel-space neighbours too" in page.evaluate(TITLE, "neighbours-pca")
    for name in ("neighbours-pixels", "neighbours-ae", "neighbours-pca", "selection-grid", "hover-image"):
        assert_shown_whole(page, name)
    marks = page.evaluate(READ, "explore-pca-picked")
    assert np.allclose(np.column_stack([marks["x"], marks["y"]]), layouts["pca"]["xy"][[j, *expected]], atol=1e-4)
    assert page.errors == []


def test_two_taps_decode_the_path_between_them(full, page):
    url, run, mnist, layouts = full
    open_tab(page, url, "Decoder", "decoder-marker")
    decoder = run.load_autoencoder().decoder
    ends = []
    for fx, fy in ((0.3, 0.3), (0.7, 0.6)):
        old = page.evaluate(READ, "decoder-marker")
        ends.append(tap(page, "decoder-marker", fx, fy,
                        lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m))
    (x0, y0), (x1, y1) = [(m["x"][0], m["y"][0]) for m in ends]

    def strip():
        # The line first: the strip comes in the same message, so a line already moved means
        # the strip read after it is the new one (read the other way round, the message could
        # land between the two reads).
        line = page.evaluate(READ, "decoder-path-line")
        d = page.evaluate(READ, "decoder-path")
        if line and np.allclose(line["x"], [x0, x1]) and np.allclose(line["y"], [y0, y1]):
            return [np.flipud(np.asarray(d["image"], np.float64).reshape(d["shape"]))]
    s, = wait_for(page, strip)
    assert np.abs(s[:, :28] - decode_at(decoder, x0, y0)).max() < 1e-5
    assert np.abs(s[:, -28:] - decode_at(decoder, x1, y1)).max() < 1e-5
    middle = s[:, 3 * 29: 3 * 29 + 28]
    assert np.abs(middle - decode_at(decoder, (x0 + x1) / 2, (y0 + y1) / 2)).max() < 1e-5
    assert page.errors == []



def test_switching_layout_moves_every_point_over_a_second(full, page):
    url, run, mnist, layouts = full
    open_tab(page, url, None, "embedding-raster")
    before = page.evaluate(RANGES, "embedding-raster")
    ae, pca = (np.asarray(layouts[k]["xy"], np.float64) for k in ("ae", "pca"))
    page.get_by_role("button", name="PCA").click()
    frame = page.evaluate(MID_FLIGHT, "embedding-raster-transition")
    assert "missed" not in frame, frame

    # Every point leaves from where the autoencoder plane drew it and heads for where the PCA
    # plane will draw it, as fractions of the plot's frame.
    cols = {k: np.asarray(v) for k, v in frame["cols"].items()}
    assert len(cols["u0"]) == len(mnist) == 70_000
    x0, x1, y0, y1 = before
    np.testing.assert_allclose(cols["u0"], (ae[:, 0] - x0) / (x1 - x0), atol=1e-5)
    np.testing.assert_allclose(cols["v0"], (ae[:, 1] - y0) / (y1 - y0), atol=1e-5)
    lo, hi = pca.min(axis=0), pca.max(axis=0)
    np.testing.assert_allclose(cols["u1"], (pca[:, 0] - lo[0]) / (hi[0] - lo[0]), atol=1e-5)
    np.testing.assert_allclose(cols["v1"], (pca[:, 1] - lo[1]) / (hi[1] - lo[1]), atol=1e-5)
    np.testing.assert_array_equal(cols["c"], mnist.labels)

    # The sampled frame is mid-way on the Power4 curve, and it is exactly every point at its
    # eased position in its label's color (drawn in index order, the last on top).
    assert frame["shown"] and frame["size"] == frame["frame"] == frame["shape"][::-1]  # over the plot's frame
    assert 0.2 <= frame["t"] <= 0.8
    assert frame["p"] == pytest.approx(power4(frame["t"]), abs=1e-12)
    expected = splat(cols, frame["p"], frame["shape"], list(color_key(mnist).values()))
    assert dict(zip(frame["idx"], frame["col"])) == expected
    assert len(expected) > 20_000  # most of the 70,000 are on screen, a pixel each

    # After about a second the points have landed, the canvas is gone and the PCA plane is drawn
    # over PCA's own extent.
    rec = wait_for(page, lambda: (r := page.evaluate("() => window.aereportTransitions['embedding-raster-transition']"))
                   and r["done"] and r)
    assert 900 <= rec["ms"] <= 4000 and rec["frames"] >= 3
    assert not page.evaluate(TRANSITION_SHOWN, "embedding-raster-transition")
    assert page.evaluate(RANGES, "embedding-raster") == pytest.approx([lo[0], hi[0], lo[1], hi[1]], rel=1e-6)
    raster = page.evaluate(READ, "embedding-raster")
    assert raster["x"][0] == pytest.approx(lo[0], rel=1e-6)
    assert page.errors == []

