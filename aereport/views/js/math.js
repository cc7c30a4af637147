// The exported page's arithmetic, each function the twin of the Python it mirrors, and tested in
// Node against it on the same inputs (tests/test_js.py):
//   fieldCode(field, x, y)              aereport.latent.field_at: a blended code between a field's nodes
//   position(q, lo, hi)                 aereport.views.static.fractions, read back: a 16-bit fraction's place
//   inBox(x, y, x0, y0, x1, y1)         aereport.selection.in_box, for one point
//   inPolygon(x, y, px, py)             aereport.selection.in_polygon (even-odd rule), for one point
//   manifoldShape(width, height, h, w)  aereport.latent.manifold_shape: images across and down a plot
//   manifoldCentres(bounds, nx, ny)     aereport.latent.manifold_centres: the grid's cell centres
// Loaded into the page before runtime.js (window.aereportMath), and by Node as a CommonJS module.
(function (root) {
  const Q = 1 / 65535;

  function fieldCode(f, x, y) {
    // Bilinear interpolation of the field's codes at (x, y), clamped to its extent.
    const [x0, y0, x1, y1] = f.bounds, n = f.size, d = f.dim;
    const clamp = (v) => Math.min(n - 1, Math.max(0, v));
    const fx = clamp((x - x0) / ((x1 - x0) || 1) * (n - 1)), fy = clamp((y - y0) / ((y1 - y0) || 1) * (n - 1));
    const i = Math.min(Math.floor(fy), n - 2), j = Math.min(Math.floor(fx), n - 2), ty = fy - i, tx = fx - j;
    const at = (r, c, k) => f.codes[(r * n + c) * d + k];
    const z = [];
    for (let k = 0; k < d; k++)
      z.push((1 - ty) * ((1 - tx) * at(i, j, k) + tx * at(i, j + 1, k)) + ty * ((1 - tx) * at(i + 1, j, k) + tx * at(i + 1, j + 1, k)));
    return z;
  }

  function position(q, lo, hi) {
    return lo + q * Q * (hi - lo);
  }

  function inBox(x, y, x0, y0, x1, y1) {
    return x >= Math.min(x0, x1) && x <= Math.max(x0, x1) && y >= Math.min(y0, y1) && y <= Math.max(y0, y1);
  }

  function inPolygon(x, y, px, py) {
    // Whether the point is inside the closed polygon of vertices (px[i], py[i]): a ray to the
    // right crosses its edges an odd number of times.
    let inside = false;
    for (let i = 0, m = px.length; i < m; i++) {
      const j = (i + 1) % m;
      if ((py[i] > y) !== (py[j] > y) && x < px[i] + (y - py[i]) * (px[j] - px[i]) / (py[j] - py[i])) inside = !inside;
    }
    return inside;
  }

  function manifoldShape(width, height, h, w, spacing = 1.5, most = 24) {
    const fit = (room, size) => Math.min(most, Math.max(2, Math.floor(room / (spacing * size))));
    return [fit(width, w), fit(height, h)];
  }

  function manifoldCentres([x0, x1, y0, y1], nx, ny) {
    const xs = [], ys = [];
    for (let i = 0; i < nx; i++) xs.push(x0 + (i + 0.5) * (x1 - x0) / nx);
    for (let j = 0; j < ny; j++) ys.push(y0 + (j + 0.5) * (y1 - y0) / ny);
    return [xs, ys];
  }

  const api = { Q, fieldCode, position, inBox, inPolygon, manifoldShape, manifoldCentres };
  root.aereportMath = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
