"""Positions → codes → images (aereport.latent.LatentMap), on small arrays: the one place a
position's code is worked out, for served views, notebooks and the exported page alike."""
from __future__ import annotations

import numpy as np
import pytest

from aereport import AEReportError
from aereport.latent import FAR, MARGIN, LatentMap, field_at


def decoder(codes):
    """A decoder anyone can check: a 2×3 image of the code's first value, second value, sum."""
    codes = np.asarray(codes, np.float32)
    return np.stack([codes[:, 0], codes[:, 1], codes.sum(axis=1)] * 2, axis=1).reshape(-1, 2, 3)


@pytest.fixture
def wide():
    """Eight-dimensional codes of 200 samples, shown on a 2-D 'umap' layout and the latent PCA ('ae')."""
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 8)).astype(np.float32)
    return LatentMap(decoder, codes, {"ae": codes[:, :2].copy(), "umap": rng.normal(size=(200, 2)).astype(np.float32)})


def test_on_the_2d_latent_plane_a_position_is_its_code():
    codes = np.array([[0.0, 0.0], [4.0, 2.0]], np.float32)
    m = LatentMap(decoder, codes, {"ae": codes})
    z, how = m.code_at("ae", 1.5, -0.5)
    assert m.direct and z.tolist() == [1.5, -0.5] and how == "decoder at this latent position"
    image, _ = m.decode("ae", 1.5, -0.5)
    np.testing.assert_allclose(image, decoder([[1.5, -0.5]])[0])


def test_far_positions_are_clamped_and_said_so():
    codes = np.array([[0.0, 0.0], [4.0, 2.0]], np.float32)
    m = LatentMap(decoder, codes, {"ae": codes})
    z, how = m.code_at("ae", 1e30, -1e30)
    assert z.tolist() == [4.0 + MARGIN * 4.0, 0.0 - MARGIN * 2.0] and how.endswith(FAR)


@pytest.mark.parametrize("layout, x, y, message", [
    ("ae", float("nan"), 0.0, r"position must be finite. Received: x=nan, y=0.0"),
    ("ae", 0.0, float("inf"), r"position must be finite. Received: x=0.0, y=inf"),
    ("isomap", 0.0, 0.0, r"layout must be one of \['ae', 'umap'\]. Received: layout='isomap'"),
])
def test_positions_that_cannot_be_decoded(wide, layout, x, y, message):
    with pytest.raises(AEReportError, match=message):
        wide.decode(layout, x, y)


def test_off_the_latent_plane_a_position_blends_its_nearest_samples_codes(wide):
    xy, codes = wide.layouts["umap"], wide.codes
    z, how = wide.code_at("umap", *xy[17])
    np.testing.assert_allclose(z, codes[17], atol=1e-4)  # on a sample: (nearly) its own code
    assert how == f"decoder at the weighted mean latent code of the {wide.k} nearest samples"
    between = (xy[3] + xy[4]) / 2
    z = wide.code_at("umap", *between)[0]
    _, idx = wide.tree("umap").query(between, k=wide.k)
    assert np.all(z >= codes[idx].min(axis=0) - 1e-6) and np.all(z <= codes[idx].max(axis=0) + 1e-6)
    assert not wide.direct  # 8-D codes: the 'ae' layout blends too


def test_a_path_is_one_batch_of_what_each_position_decodes(wide):
    a, b = (-1.0, 0.5), (1.5, -0.25)
    strip = wide.path("umap", a, b, 5)
    assert strip.shape == (5, 2, 3)
    for t, image in zip(np.linspace(0, 1, 5), strip):
        point = (1 - t) * np.array(a) + t * np.array(b)
        np.testing.assert_allclose(image, wide.decode("umap", *point)[0], atol=1e-6)


def test_the_pages_field_interpolates_the_maps_own_codes(wide):
    field = wide.field("umap", size=16)
    (x0, y0, x1, y1), codes = field["bounds"], field["codes"]
    assert codes.shape == (16, 16, 8)
    for i, j in ((0, 0), (5, 9), (15, 15)):
        node = (x0 + j * (x1 - x0) / 15, y0 + i * (y1 - y0) / 15)
        np.testing.assert_allclose(field_at(field, *node), wide.code_at("umap", *node)[0], atol=1e-5)
    np.testing.assert_allclose(field_at(field, x1 + 100, y1 + 100), codes[15, 15], atol=1e-6)  # clamped to its edge
    with pytest.raises(AEReportError, match="size must be at least 2. Received: size=1"):
        wide.field("umap", 1)


def test_a_new_layout_makes_a_new_map_sharing_what_did_not_change(wide):
    wide.tree("umap"), wide.tree("ae")
    moved = wide.layouts["umap"] + 10
    new = wide.replace(umap=moved)
    assert new.tree("ae") is wide.tree("ae") and new.tree("umap") is not wide.tree("umap")
    assert new.nearest("umap", *moved[7]) == 7 and wide.nearest("umap", *moved[7]) != 7
    assert new.codes is wide.codes


def test_codes_are_computed_once_when_first_needed():
    calls = []
    codes = np.zeros((3, 4), np.float32)
    m = LatentMap(decoder, lambda: calls.append(1) or codes, {"ae": codes[:, :2]}, direct=False)
    assert calls == []  # a server starts without encoding its dataset
    m.decode("ae", 0.0, 0.0), m.decode("ae", 0.0, 0.0)
    assert calls == [1]


def test_samples_near_a_position_inside_a_box_or_lasso(wide):
    xy = wide.layouts["umap"]
    visible = np.zeros(len(xy), bool)
    visible[::2] = True
    assert wide.nearest("umap", *xy[3]) == 3
    i = wide.nearest("umap", *xy[3], visible=visible)
    assert i % 2 == 0
    assert wide.nearest("umap", float("nan"), 0.0) is None
    near = wide.neighbours("umap", 3, 5)
    assert len(near) == 5 and 3 not in near
    inside = wide.select("umap", box=(0.5, 0.5, -0.5, -0.5))
    assert ((np.abs(xy[inside]) <= 0.5).all()) and len(inside) > 0
    triangle = wide.select("umap", polygon=[(-2, -2), (2, -2), (0, 2)])
    x, y = xy[:, 0], xy[:, 1]
    expected = np.flatnonzero((y >= -2) & (y <= 2 * x + 2) & (y <= -2 * x + 2))
    assert triangle.tolist() == expected.tolist() and 0 < len(triangle) < len(xy)
