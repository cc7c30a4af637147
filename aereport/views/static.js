// The exported report's decoder: TF.js in the page, weights inlined as base64 (no network, no file://
// fetch). window.aereport.decode(x, y, source) draws the decoded image into a Bokeh image source.
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
  async function decode(x, y, source) {
    const m = await load();
    const out = tf.tidy(() => m.predict(tf.tensor2d([[x, y]])));
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
