"""The page's JavaScript: no script hides in a Python string, and the twins of Python arithmetic
in ``aereport/views/js/math.js`` give, in Node, Python's answers on the same inputs."""
from __future__ import annotations

import ast
import json
import re
import subprocess

import numpy as np

from aereport.latent import field_at, manifold_centres, manifold_shape
from aereport.selection import in_box, in_polygon
from aereport.views.static import quantize

from .conftest import ROOT

NODE_DIR = ROOT / "tests" / "js"
# What only JavaScript says: Bokeh's callback object, arrow functions, declarations, the page's globals.
JS = re.compile(r"cb_obj|=>|\bconst |\blet |\bfunction\s*\(|window\.|document\.|\.setv\(")


def test_no_python_string_holds_javascript():
    """Every script a page runs is a file of ``views/js`` (read by ``views/scripts.py``)."""
    found = []
    for path in (ROOT / "aereport").rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and JS.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "\n".join(found)


def test_math_js_gives_what_the_python_it_mirrors_gives(tmp_path):
    rng = np.random.default_rng(0)
    field = {"bounds": (-1.5, 2.0, 3.0, 5.5), "size": 7, "codes": rng.normal(size=(7, 7, 5)).astype(np.float32)}
    # inside, on the nodes and edges, and beyond the field (clamped)
    points = np.concatenate([rng.uniform(-3, 7, (300, 2)), [[-1.5, 2.0], [3.0, 5.5], [0.75, 3.75], [-9, 99]]])
    xy = rng.normal(size=(500, 2)).astype(np.float32)
    bounds = [float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())]
    qx, qy = quantize(xy, bounds)
    # what the page reads back from the 16-bit fractions: each point within half a step of its place
    decoded = np.column_stack([bounds[0] + qx * (1 / 65535) * (bounds[2] - bounds[0]),
                               bounds[1] + qy * (1 / 65535) * (bounds[3] - bounds[1])])
    step = np.array([bounds[2] - bounds[0], bounds[3] - bounds[1]]) / 65535
    assert (np.abs(decoded - xy) <= step / 2 + 1e-6).all()
    box = (-0.5, 0.8, 0.7, -0.3)  # corners in either order
    polygon = np.array([[-1.0, -1.0], [1.2, -0.4], [0.3, 1.5], [0.0, 0.2], [-1.4, 0.9]])
    cases = {"field": {"bounds": field["bounds"], "size": field["size"], "dim": 5,
                       "codes": field["codes"].ravel().tolist()},
             "points": points.tolist(),
             "fractions": [[int(a), bounds[0], bounds[2]] for a in qx],
             "box": {"bounds": list(box), "points": decoded.tolist()},
             "polygon": {"xs": polygon[:, 0].tolist(), "ys": polygon[:, 1].tolist(), "points": decoded.tolist()},
             "manifold": {"sizes": [[600, 420, 28, 28], [40, 5000, 28, 28], [893, 730, 64, 52], [1, 1, 3, 3]],
                          "grids": [[[-2.5, 3.1, -7.25, 0.4], 14, 10], [[0, 1, 0, 1], 2, 3], [[5, -5, 1e-3, 2e-3], 24, 7]]}}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = subprocess.run(["node", str(NODE_DIR / "twins.mjs"), str(tmp_path / "cases.json")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)

    np.testing.assert_allclose(js["field"], [field_at(field, x, y) for x, y in points], rtol=1e-6, atol=1e-6)
    assert js["position"] == decoded[:, 0].tolist()  # the same operations in the same order: equal
    inside = np.zeros(len(decoded), bool)
    inside[in_box(decoded, box)] = True
    assert js["box"] == inside.tolist() and 0 < inside.sum() < len(decoded)
    inside = np.zeros(len(decoded), bool)
    inside[in_polygon(decoded, polygon)] = True
    assert js["polygon"] == inside.tolist() and 0 < inside.sum() < len(decoded)
    assert js["manifoldShape"] == [list(manifold_shape(*s[:2], s[2:])) for s in cases["manifold"]["sizes"]]
    for (bounds, nx, ny), (xs, ys) in zip(cases["manifold"]["grids"], js["manifoldCentres"]):
        theirs = manifold_centres(bounds, (nx, ny))
        np.testing.assert_allclose(xs, theirs[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ys, theirs[1], rtol=1e-12, atol=1e-15)
