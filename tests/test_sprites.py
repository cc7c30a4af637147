"""Thumbnails, selection geometry, neighbours and decoded paths, on real MNIST digits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from aereport.selection import in_box, in_polygon, nearest_pixels, overlap
from aereport.sprites import THUMBNAILS_AT, Viewport, build_atlas, grid, render
from aereport.state import ReportState
from aereport.store import SPRITES, Run


def test_atlas_keeps_mnist_and_shrinks_faces():
    digits = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    atlas = build_atlas(digits)
    assert atlas.dtype == np.uint8 and atlas.shape == (4, 28, 28)
    assert np.abs(atlas / 255 - digits).max() <= 0.5 / 255 + 1e-6
    assert build_atlas(np.zeros((2, 109, 89, 3))).shape == (2, 32, 26, 3)


def test_thumbnails_only_when_few_points_are_in_view(mnist_small):
    atlas = build_atlas(mnist_small.images)
    xy = np.random.default_rng(1).random((len(atlas), 2)) * 100
    everything = Viewport(0, 100, 0, 100, 400, 300)
    assert not render(xy, everything, atlas=atlas, limit=THUMBNAILS_AT)[..., 3].any()  # 2,000 in view
    corner = Viewport(0, 20, 0, 20, 400, 300)
    img = render(xy, corner, atlas=atlas)
    inside = np.flatnonzero(corner.contains(xy))
    assert 0 < len(inside) <= THUMBNAILS_AT and img[..., 3].any()
    # An RGB atlas pastes the photographs as they are.
    rgb = build_atlas(np.stack([mnist_small.images] * 3, axis=-1))
    assert render(xy, corner, atlas=rgb)[..., 3].max() == 255


@pytest.mark.parametrize("count, side", [(1000, 28), (400, 28), (100, 56), (25, 56), (200, 40)])
def test_thumbnails_grow_as_fewer_points_are_in_view(mnist_small, count, side):
    """Native size from 400 points in view up, up to twice it (56 px for MNIST) with 100 or fewer."""
    atlas = build_atlas(mnist_small.images)
    xy = np.full((len(atlas), 2), -1.0)  # every sample out of view but ``count`` of them, far apart
    xy[:count] = np.column_stack([np.arange(count) % 40 * 100 + 50, np.arange(count) // 40 * 100 + 50])
    vp = Viewport(0, 4000, 0, 2600, 4000, 2600)
    img = render(xy, vp, atlas=atlas)
    col, row = vp.pixels(xy[:1])
    alpha = img[max(row[0] - 40, 0):row[0] + 40, max(col[0] - 40, 0):col[0] + 40, 3]
    rows, cols = np.nonzero(alpha)
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side


def test_selection_veils_the_rest_and_lights_the_selected():
    xy = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]])
    img = render(xy, Viewport(0, 1, 0, 1, 100, 100), selected=np.array([1]),
                 labels=np.array([0, 1, 2]), palette=np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], np.uint8))
    assert tuple(img[50, 50]) == (0, 0, 255, 255)  # the selected sample, in its label's color
    assert tuple(img[10, 10]) == (255, 255, 255, 170) and tuple(img[90, 10]) == (255, 255, 255, 170)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=3, max_size=12),
       st.integers(0, 2**32 - 1))
def test_polygon_selection_matches_a_brute_force_ray_cast(vertices, seed):
    xy = np.random.default_rng(seed).uniform(-6, 6, (300, 2))
    poly = np.array(vertices)
    expected = []
    for i, (x, y) in enumerate(xy):
        inside = False
        for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
            if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
                inside = not inside
        if inside:
            expected.append(i)
    assert in_polygon(xy, poly).tolist() == expected


def test_box_and_neighbours():
    xy = np.array([[0, 0], [1, 1], [2, 2]], float)
    assert in_box(xy, (2.5, 2.5, 0.5, 0.5)).tolist() == [1, 2]
    assert nearest_pixels(np.array([[0.0], [5.0], [1.0], [2.0]]), 0, 2).tolist() == [2, 3]
    assert overlap(np.array([1, 2]), np.array([2, 3])) == 0.5


def test_grid_tiles_images_in_rows():
    out = grid(np.stack([np.full((2, 3), v) for v in (0.0, 0.5, 1.0)]), columns=2)
    assert out.shape == (5, 7)
    assert out[0, 0] == 0 and out[0, 4] == 0.5 and out[3, 0] == 1.0 and out[2, 0] == 1.0  # gap is white


@pytest.fixture(scope="module")
def state(trained_run, tmp_path_factory):
    import shutil

    run = tmp_path_factory.mktemp("sprites") / "run"
    shutil.copytree(trained_run, run)
    return ReportState.open(run)


def test_atlas_is_built_once_and_kept_in_the_run(state):
    atlas = state.sprites
    assert (state.run.path / SPRITES).is_file() and len(atlas) == len(state.dataset)
    assert np.array_equal(Run(state.run.path).load_sprites(len(state.dataset)), atlas)
    (state.run.path / SPRITES).write_bytes(b"not an array")  # a damaged file is rebuilt, not shown
    assert Run(state.run.path).load_sprites(len(state.dataset)) is None


def test_neighbours_in_pixel_space_and_on_each_layout(state):
    found = state.neighbours(7, k=5)
    assert set(found) == {"pixels", *state.layouts}
    flat = state.dataset.images.reshape(len(state.dataset), -1)
    d = ((flat - flat[7]) ** 2).sum(axis=1)
    d[7] = np.inf
    assert found["pixels"].tolist() == np.argsort(d, kind="stable")[:5].tolist()
    xy = state.layouts["umap"]
    assert set(found["umap"]) == set(np.argsort(np.hypot(*(xy - xy[7]).T))[1:6])
    with pytest.raises(Exception, match=r"index must be an integer in \[0, 5000\). Received: index=5000"):
        state.neighbours(len(state.dataset))


def test_a_path_decodes_its_ends_exactly(state):
    a, b = np.median(state.layouts["ae"], axis=0), state.layouts["ae"][3]
    strip = state.latent.path("ae", a, b, 5)
    assert strip.shape == (5, 28, 28)
    assert np.abs(strip[0] - state.latent.decode("ae", *a)[0]).max() < 1e-5
    assert np.abs(strip[-1] - state.latent.decode("ae", *b)[0]).max() < 1e-5
    assert state.latent.nearest("ae", *b) == 3 or np.allclose(state.layouts["ae"][state.latent.nearest("ae", *b)], b)
