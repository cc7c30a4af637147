// The exported report's runtime: the decoder in TF.js, weights inlined as base64 (no network, no
// file:// fetch), and the Embeddings tab's explorer. window.aereport.decode(x, y, source) draws the
// decoded image into a Bokeh image source. A latent space wider than 2-D comes with a field of codes
// over the plane, interpolated bilinearly (math.js's fieldCode, the twin of aereport.latent.field_at).
(function () {
  const M = window.aereportMath;  // math.js, loaded before this file
  let model = null, data = null;
  function payload() {
    // The decoder's topology, weights (base64) and, for a wide code, its field: JSON the export
    // put in the page.
    if (!data) {
      data = JSON.parse(document.getElementById("aereport-decoder").textContent);
      const f = data.field;  // its codes: float32 bytes, base64-encoded
      if (f) f.codes = new Float32Array(Uint8Array.from(atob(f.codes), (c) => c.charCodeAt(0)).buffer);
    }
    return data;
  }
  function load() {
    if (model) return model;
    const p = payload();
    const bytes = Uint8Array.from(atob(p.weightData), (c) => c.charCodeAt(0));
    tf.setBackend("cpu");  // ~1 ms per decode for small decoders; WebGL is slower here
    model = tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: p.modelTopology, weightSpecs: p.weightSpecs, weightData: bytes.buffer }));
    return model;
  }
  function code(x, y) {
    const f = payload().field;
    return f ? M.fieldCode(f, x, y) : [x, y];
  }
  async function predict(codes) {
    // The decoder's images for a batch of codes: their values, image after image, and one's shape.
    const m = await load();
    const out = tf.tidy(() => m.predict(tf.tensor2d(codes)));
    const values = await out.data(), shape = out.shape.slice(1);
    out.dispose();
    return { values, shape };
  }

  function paint(source, values, shape, tiles = 1, across = 1, from = 0) {
    // Images ``from``.. of ``values`` into the source's image as a grid ``across`` tiles wide (blank
    // tiles white); Bokeh draws row 0 at the bottom, so rows go in bottom-up, in place.
    const h = shape[0], w = shape[1], ch = shape.length === 2 ? 1 : 3;
    const W = w * across, H = h * Math.ceil(tiles / across), size = h * w * ch, count = values.length / size;
    let img = source.data.image[0];
    if (img.length !== H * W) {  // the document's placeholder: an image of the grid's size, the same array type
      img = new img.constructor(new ArrayBuffer(H * W * img.BYTES_PER_ELEMENT), [H, W]);
      source.data = { ...source.data, image: [img] };
    }
    const bytes = ch === 3 ? new Uint8Array(img.buffer, img.byteOffset, img.byteLength) : null;
    for (let t = 0; t < tiles; t++) {
      const oy = Math.floor(t / across) * h, ox = (t % across) * w, have = from + t < count;
      for (let r = 0; r < h; r++)
        for (let c = 0; c < w; c++) {
          const at = (H - 1 - oy - r) * W + ox + c, i = (from + t) * size + (r * w + c) * ch;
          if (ch === 1) { img[at] = have ? values[i] : 1; continue; }
          for (let k = 0; k < 3; k++) bytes[at * 4 + k] = have ? Math.round(Math.min(1, Math.max(0, values[i + k])) * 255) : 255;
          bytes[at * 4 + 3] = 255;
        }
    }
    source.change.emit();
  }

  let manifoldBusy = null, manifoldNext = null;
  async function manifold(renderer, bounds, width, height) {
    // The decoded manifold over the viewport bounds [x0, x1, y0, y1] of a width×height plot
    // (aereport.latent.LatentMap.manifold): images decoded at the centres of a grid's cells, as
    // many as fit at 1.5× their size, row 0 on top. A call while one decodes waits, and only the
    // latest waiting one runs.
    if (manifoldBusy) { manifoldNext = [renderer, bounds, width, height]; return manifoldBusy; }
    const [h, w] = payload().image_shape, [nx, ny] = M.manifoldShape(width, height, h, w);
    const [xs, ys] = M.manifoldCentres(bounds, nx, ny), codes = [];
    for (let j = ny - 1; j >= 0; j--) for (let i = 0; i < nx; i++) codes.push(code(xs[i], ys[j]));
    manifoldBusy = predict(codes).then(({ values, shape }) => {
      const source = renderer.data_source;
      paint(source, values, shape, nx * ny, nx);
      source.data = { ...source.data, x: [bounds[0]], y: [bounds[2]], dw: [bounds[1] - bounds[0]], dh: [bounds[3] - bounds[2]] };
      renderer.visible = true;
      window.aereport.manifoldDrawn = { bounds, nx, ny };
    }).finally(() => {
      manifoldBusy = null;
      if (manifoldNext) { const next = manifoldNext; manifoldNext = null; manifold(...next); }
    });
    return manifoldBusy;
  }

  async function traverse(x, y, source) {
    // Latent traversal around (x, y)'s code (aereport.latent.traversal_codes): for each swept
    // dimension a row of images, that dimension alone from -spread·σ to +spread·σ of its value.
    const t = payload().traversal;
    if (!t || !source) return null;
    const z = code(x, y), codes = [];
    t.dims.forEach((dim, r) => {
      for (let s = 0; s < t.steps; s++) {
        const c = Array.from(z);
        c[dim] = z[dim] + (-t.spread + 2 * t.spread * s / (t.steps - 1)) * t.sigma[r];
        codes.push(c);
      }
    });
    const { values, shape } = await predict(codes);
    paint(source, values, shape, codes.length, t.steps);
    return codes;
  }

  async function decode(x, y, source) {
    const { values, shape } = await predict([code(x, y)]);
    paint(source, values, shape);
    window.aereport.last = { x, y, values: Array.from(values) };
    return values;
  }

  // --- The Embeddings tab: layout switch, label filter and hover, with no server to ask. -----------
  // a.coords holds every layout's points as 16-bit fractions of its raster's bounds (columns
  // <name>_x, <name>_y) and their label codes (c); a.bounds[k] is layout k's [x0, y0, x1, y1].
  const Q = M.Q, CELLS = 256;  // the hover index buckets points by the top 8 bits of each fraction

  function explorer(a) {
    if (a.fig._aereport) return a.fig._aereport;
    const d = a.coords.data, n = d.c.length, xr = a.fig.x_range, yr = a.fig.y_range;
    const e = a.fig._aereport = { shown: 0, allowed: null, selected: null, hovered: -1, grids: {}, drawn: null };
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
        u0[t] = (M.position(ax[k], bj[0], bj[2]) - xr.start) / (xr.end - xr.start);
        v0[t] = (M.position(ay[k], bj[1], bj[3]) - yr.start) / (yr.end - yr.start);
        u1[t] = bx[k] * Q; v1[t] = by[k] * Q; c[t] = d.c[k];
      }
      e.shown = i;
      a.points.data = { u0, v0, u1, v1, c };
      e.showRaster();
      xr.setv({ start: a.bounds[i][0], end: a.bounds[i][2], min_interval: a.spans[i][0] });  // its zoom limit
      yr.setv({ start: a.bounds[i][1], end: a.bounds[i][3], min_interval: a.spans[i][1] });
      e.hovered = -1;
      a.marker.visible = false;
      e.draw();
    };

    e.filter = (active) => {
      // All labels on: the Datashader raster. Some off: the shown points, drawn in the page.
      e.allowed = null;
      if (active.length < a.labels.length) {
        e.allowed = new Uint8Array(a.labels.length);
        for (const k of active) e.allowed[k] = 1;
      }
      if (e.hovered >= 0 && !keep(e.hovered)) { e.hovered = -1; a.marker.visible = false; }
      e.showRaster();
      e.draw();
      if (e.selected !== null) e.showGrid();
    };
    e.showRaster = () => a.rasters.forEach((r, k) => { r.visible = k === e.shown && e.allowed === null && e.selected === null; });

    e.select = (g) => {
      // A box or lasso on the shown layout picks samples; they stay picked through switches and
      // filters (which only hide them), and the other layouts show where they lie.
      const [xs, ys, b] = cols(e.shown), sel = new Uint8Array(n);
      const X = (k) => M.position(xs[k], b[0], b[2]), Y = (k) => M.position(ys[k], b[1], b[3]);
      if (g.type === "rect") {
        for (let k = 0; k < n; k++) sel[k] = M.inBox(X(k), Y(k), g.x0, g.y0, g.x1, g.y1);
      } else if (g.type === "poly") {
        for (let k = 0; k < n; k++) sel[k] = M.inPolygon(X(k), Y(k), g.x, g.y);
      } else return;
      e.selected = sel;
      e.lastGeometry = g;
      e.refresh();
    };
    e.clear = () => { e.selected = null; e.refresh(); };
    e.refresh = () => { e.showRaster(); e.draw(); e.showGrid(); };

    e.picked = () => {
      const idx = [];
      if (e.selected !== null) for (let k = 0; k < n; k++) if (e.selected[k] && keep(k)) idx.push(k);
      return idx;
    };
    let gridBusy = null, gridAgain = false;  // one batch decode at a time; the latest selection wins
    e.showGrid = () => {
      if (gridBusy) { gridAgain = true; return gridBusy; }
      const idx = e.picked(), m = idx.length, take = Math.min(m, a.grid_max), shown = [];
      for (let t = 0; t < take; t++) shown.push(idx[take > 1 ? Math.round(t * (m - 1) / (take - 1)) : 0]);
      const [ax, ay, b] = cols(a.ae);  // each sample's place on the latent plane: its code there
      const codes = shown.map((k) => code(M.position(ax[k], b[0], b[2]), M.position(ay[k], b[1], b[3])));
      a.grid_fig.visible = e.selected !== null;  // no empty box before a selection
      a.grid_label.text = e.selected === null ? "drag a box (or the lasso) over points to select them"
        : `${m.toLocaleString("en")} selected` + (m ? `; ${take < m ? `${take} of them, evenly spaced,` : "they"} as the decoder draws them from their latent codes` : "");
      const done = (values, shape) => {
        paint(a.grid, values, shape, a.grid_max, a.grid_across);
        e.gridShown = shown;
        gridBusy = null;
        if (gridAgain) { gridAgain = false; e.showGrid(); }
      };
      gridBusy = take ? predict(codes).then(({ values, shape }) => done(values, shape))
                      : Promise.resolve().then(() => done(new Float32Array(0), a.image_shape));
      return gridBusy;
    };

    e.draw = () => {
      const view = Bokeh.index.find_one(a.fig);
      if (view == null) return;
      const canvas = e.canvas || (e.canvas = document.createElement("canvas"));
      if (e.allowed === null && e.selected === null) { canvas.style.display = "none"; e.drawn = null; return; }
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
      // With a selection, the rest are drawn first in their colors under a veil, the selection over them.
      const sel = e.selected, passes = sel === null ? [null] : [0, 1];
      for (const pass of passes)
        for (let k = 0; k < n; k++) {
          if (!keep(k) || (pass !== null && sel[k] !== pass)) continue;
          const x = Math.floor(xs[k] * sx + ox), y = Math.floor(ys[k] * sy + oy);
          if (x < 0 || y < 0 || x > W - dot || y > H - dot) continue;
          const col = (pass === 0 ? a.veiled : a.palette)[d.c[k]];
          for (let p = 0; p < dot; p++) for (let q = 0; q < dot; q++) px[(H - 1 - y - p) * W + x + q] = col;
        }
      ctx.putImageData(img, 0, 0);
      e.drawn = { n: m, dot, pixels: px, shape: [H, W] };
    };
    e.schedule = () => {  // pan and zoom move both ends of both ranges: draw once per frame
      if (e.allowed !== null && !e.raf) e.raf = requestAnimationFrame(() => { e.raf = null; e.draw(); });
    };
    window.addEventListener("resize", e.schedule);
    e.on = (action, obj) => {  // explorer_event.js: one CustomJS for every widget and plot event
      if (action === "switch") e.switchTo(obj.active);
      else if (action === "hover") e.hover(obj.x, obj.y);
      else if (action === "select") { if (obj.final) e.select(obj.geometry); }
      else if (action === "clear") e.clear();
      else if (action === "filter") e.filter(obj.active);
      else if (action === "schedule") e.schedule();
    };

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
      busy = decode(M.position(ax[k], b[0], b[2]), M.position(ay[k], b[1], b[3]), a.image).finally(() => {
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
      a.marker.setv({ x: M.position(xs[k], b[0], b[2]), y: M.position(ys[k], b[1], b[3]), visible: true });
      // a Div set to render text, never markup; an unlabelled dataset has the one category
      a.label.text = a.labels.length > 1 ? `#${k} · label ${a.labels[d.c[k]]}` : `#${k}`;
      show(k);
    };
    return e;
  }

  window.aereport = { decode, load, explorer, manifold, traverse };
})();
