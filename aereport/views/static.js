// The exported report's decoder: TF.js in the page, weights inlined as base64 (no network, no file://
// fetch). window.aereport.decode(x, y, source) draws the decoded image into a Bokeh image source.
// A latent space wider than 2-D comes with a field of codes over the plane, interpolated bilinearly
// (aereport.state.field_at does the same in Python).
(function () {
  let model = null;
  function load() {
    if (model) return model;
    const p = window.AEREPORT_DECODER;
    const bytes = Uint8Array.from(atob(p.weightData), (c) => c.charCodeAt(0));
    tf.setBackend("cpu");  // ~1 ms per decode for small decoders; WebGL is slower here
    model = tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: p.modelTopology, weightSpecs: p.weightSpecs, weightData: bytes.buffer }));
    return model;
  }
  function code(x, y) {
    const f = window.AEREPORT_DECODER.field;
    if (!f) return [x, y];
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
  async function decode(x, y, source) {
    const m = await load();
    const out = tf.tidy(() => m.predict(tf.tensor2d([code(x, y)])));
    const values = await out.data();
    const shape = out.shape.slice(1);
    out.dispose();
    const h = shape[0], w = shape[1], img = source.data.image[0];
    // Bokeh draws row 0 at the bottom: write the decoder's rows bottom-up, in place.
    if (shape.length === 2) {
      for (let r = 0; r < h; r++)
        for (let c = 0; c < w; c++) img[(h - 1 - r) * w + c] = values[r * w + c];
    } else {
      const bytes = new Uint8Array(img.buffer, img.byteOffset, img.byteLength);
      for (let r = 0; r < h; r++)
        for (let c = 0; c < w; c++) {
          const o = ((h - 1 - r) * w + c) * 4, i = (r * w + c) * 3;
          for (let k = 0; k < 3; k++) bytes[o + k] = Math.round(Math.min(1, Math.max(0, values[i + k])) * 255);
          bytes[o + 3] = 255;
        }
    }
    source.change.emit();
    window.aereport.last = { x, y, values: Array.from(values) };
    return values;
  }

  // --- The Embeddings tab: layout switch, label filter and hover, with no server to ask. -----------
  // a.coords holds every layout's points as 16-bit fractions of its raster's bounds (columns
  // <name>_x, <name>_y) and their label codes (c); a.bounds[k] is layout k's [x0, y0, x1, y1].
  const Q = 1 / 65535, CELLS = 256;  // the hover index buckets points by the top 8 bits of each fraction

  function explorer(a) {
    if (a.fig._aereport) return a.fig._aereport;
    const d = a.coords.data, n = d.c.length, xr = a.fig.x_range, yr = a.fig.y_range;
    const e = a.fig._aereport = { shown: 0, allowed: null, hovered: -1, grids: {}, drawn: null };
    const keep = (k) => e.allowed === null || e.allowed[d.c[k]] === 1;
    const cols = (i) => [d[a.names[i] + "_x"], d[a.names[i] + "_y"], a.bounds[i]];

    e.switchTo = (i) => {
      const j = e.shown;
      if (i === j) return;
      // Every shown point flies from where it is drawn now to where the new layout's raster has it.
      const [ax, ay, bj] = cols(j), [bx, by] = cols(i), idx = [];
      for (let k = 0; k < n; k++) if (keep(k)) idx.push(k);
      const m = idx.length, u0 = new Float32Array(m), v0 = new Float32Array(m), u1 = new Float32Array(m),
            v1 = new Float32Array(m), c = new Uint16Array(m);
      for (let t = 0; t < m; t++) {
        const k = idx[t];
        u0[t] = (bj[0] + ax[k] * Q * (bj[2] - bj[0]) - xr.start) / (xr.end - xr.start);
        v0[t] = (bj[1] + ay[k] * Q * (bj[3] - bj[1]) - yr.start) / (yr.end - yr.start);
        u1[t] = bx[k] * Q; v1[t] = by[k] * Q; c[t] = d.c[k];
      }
      e.shown = i;
      a.points.data = { u0, v0, u1, v1, c };
      e.showRaster();
      xr.setv({ start: a.bounds[i][0], end: a.bounds[i][2] });
      yr.setv({ start: a.bounds[i][1], end: a.bounds[i][3] });
      e.hovered = -1;
      a.marker.data = { x: [], y: [] };
      e.draw();
    };

    e.filter = (active) => {
      // All labels on: the Datashader raster. Some off: the shown points, drawn in the page.
      e.allowed = null;
      if (active.length < a.labels.length) {
        e.allowed = new Uint8Array(a.labels.length);
        for (const k of active) e.allowed[k] = 1;
      }
      if (e.hovered >= 0 && !keep(e.hovered)) { e.hovered = -1; a.marker.data = { x: [], y: [] }; }
      e.showRaster();
      e.draw();
    };
    e.showRaster = () => a.rasters.forEach((r, k) => { r.visible = k === e.shown && e.allowed === null; });

    e.draw = () => {
      const view = Bokeh.index.find_one(a.fig);
      if (view == null) return;
      const canvas = e.canvas || (e.canvas = document.createElement("canvas"));
      if (e.allowed === null) { canvas.style.display = "none"; e.drawn = null; return; }
      const layer = view.canvas_view.overlays_el;
      if (canvas.parentNode !== layer) layer.prepend(canvas);  // under the transition's canvas
      const box = view.frame.bbox, W = Math.max(1, Math.round(box.width)), H = Math.max(1, Math.round(box.height));
      Object.assign(canvas.style, { position: "absolute", left: `${box.x0}px`, top: `${box.y0}px`, width: `${W}px`,
                                    height: `${H}px`, pointerEvents: "none", imageRendering: "pixelated", display: "block" });
      canvas.width = W; canvas.height = H;
      canvas.className = "aereport-filtered";
      const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H), px = new Uint32Array(img.data.buffer);
      const [xs, ys, b] = cols(e.shown);
      // frame pixel = fraction * s + o, per axis
      const sx = (b[2] - b[0]) * Q / (xr.end - xr.start) * W, ox = (b[0] - xr.start) / (xr.end - xr.start) * W;
      const sy = (b[3] - b[1]) * Q / (yr.end - yr.start) * H, oy = (b[1] - yr.start) / (yr.end - yr.start) * H;
      let m = 0;
      for (let k = 0; k < n; k++) m += keep(k);
      const dot = m < 20000 ? 2 : 1;  // as the transition: sparse points stay visible
      for (let k = 0; k < n; k++) {
        if (!keep(k)) continue;
        const x = Math.floor(xs[k] * sx + ox), y = Math.floor(ys[k] * sy + oy);
        if (x < 0 || y < 0 || x > W - dot || y > H - dot) continue;
        const col = a.palette[d.c[k]];
        for (let p = 0; p < dot; p++) for (let q = 0; q < dot; q++) px[(H - 1 - y - p) * W + x + q] = col;
      }
      ctx.putImageData(img, 0, 0);
      e.drawn = { n: m, dot, pixels: px, shape: [H, W] };
    };
    e.schedule = () => {  // pan and zoom move both ends of both ranges: draw once per frame
      if (e.allowed !== null && !e.raf) e.raf = requestAnimationFrame(() => { e.raf = null; e.draw(); });
    };
    window.addEventListener("resize", e.schedule);

    function grid(i) {
      // Each layout's points bucketed once by cell (a counting sort), so a hover looks at a few cells.
      if (e.grids[i]) return e.grids[i];
      const [xs, ys] = cols(i), start = new Uint32Array(CELLS * CELLS + 1), order = new Uint32Array(n);
      const cell = (k) => (ys[k] >> 8) * CELLS + (xs[k] >> 8);
      for (let k = 0; k < n; k++) start[cell(k) + 1]++;
      for (let c = 0; c < CELLS * CELLS; c++) start[c + 1] += start[c];
      const fill = start.slice(0, CELLS * CELLS);
      for (let k = 0; k < n; k++) order[fill[cell(k)]++] = k;
      return (e.grids[i] = { start, order });
    }

    e.nearest = (x, y) => {
      // The shown sample within a.hover_px screen pixels of the data point (x, y), or -1.
      const view = Bokeh.index.find_one(a.fig), [xs, ys, b] = cols(e.shown), g = grid(e.shown);
      const fx = (x - b[0]) / (b[2] - b[0]) * 65535, fy = (y - b[1]) / (b[3] - b[1]) * 65535;
      const px = (b[2] - b[0]) * Q / (xr.end - xr.start) * view.frame.bbox.width;  // screen px per unit
      const py = (b[3] - b[1]) * Q / (yr.end - yr.start) * view.frame.bbox.height;
      const rx = a.hover_px / px, ry = a.hover_px / py;
      const clamp = (v) => Math.min(CELLS - 1, Math.max(0, Math.floor(v / 256)));
      let best = -1, bd = a.hover_px * a.hover_px;
      for (let r = clamp(fy - ry); r <= clamp(fy + ry); r++)
        for (let c = clamp(fx - rx); c <= clamp(fx + rx); c++)
          for (let t = g.start[r * CELLS + c], end = g.start[r * CELLS + c + 1]; t < end; t++) {
            const k = g.order[t];
            if (!keep(k)) continue;
            const dx = (xs[k] - fx) * px, dy = (ys[k] - fy) * py, dd = dx * dx + dy * dy;
            if (dd < bd || (dd === bd && k < best)) { best = k; bd = dd; }
          }
      return best;
    };

    let busy = null, next = null;  // one decode at a time; the latest hover wins
    function show(k) {
      if (busy) { next = k; return; }
      const [ax, ay, b] = cols(a.ae);  // the sample's place on the latent plane
      busy = decode(b[0] + ax[k] * Q * (b[2] - b[0]), b[1] + ay[k] * Q * (b[3] - b[1]), a.image).finally(() => {
        busy = null;
        if (next !== null) { const k2 = next; next = null; show(k2); }
        else e.shownImage = k;
      });
    }
    e.hover = (x, y) => {
      const k = e.nearest(x, y);
      if (k < 0 || k === e.hovered) return;
      e.hovered = k;
      const [xs, ys, b] = cols(e.shown);
      a.marker.data = { x: [b[0] + xs[k] * Q * (b[2] - b[0])], y: [b[1] + ys[k] * Q * (b[3] - b[1])] };
      // a Div set to render text, never markup; an unlabelled dataset has the one category
      a.label.text = a.labels.length > 1 ? `#${k} · label ${a.labels[d.c[k]]}` : `#${k}`;
      show(k);
    };
    return e;
  }

  window.aereport = { decode, load, explorer };
})();
