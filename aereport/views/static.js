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
  window.aereport = { decode, load };
})();
