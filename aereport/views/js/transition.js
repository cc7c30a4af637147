// An animated layout switch (CustomJS on the transition's points source, run when its data is set).
// Columns: u0, v0 (where each point is drawn now, as fractions of the plot's frame from its left and
// bottom edges), u1, v1 (where the next layout will draw it) and c (its label code). Every frame
// eases all points one step and splats them into a canvas laid over the plot's frame: the cost is
// a loop over the points and one putImageData, whatever the point count. Drawing through a Bokeh
// glyph instead repainted the whole plot each frame: 15 fps against 60 (benchmarks/transition.py).
// args: points, fig, palette (ABGR per label), duration (ms).
const d = points.data, n = d.u0 ? d.u0.length : 0;
const anim = points._aereport || (points._aereport = {});
if (anim.raf) cancelAnimationFrame(anim.raf);
anim.raf = null;
const view = Bokeh.index.find_one(fig);
if (n === 0 || view == null) { if (anim.canvas) anim.canvas.style.display = "none"; return; }
const box = view.frame.bbox, W = Math.max(1, Math.round(box.width)), H = Math.max(1, Math.round(box.height));
const canvas = anim.canvas || (anim.canvas = document.createElement("canvas"));
const layer = view.canvas_view.overlays_el;  // above the plot's canvases, below its tools' events
if (canvas.parentNode !== layer) layer.append(canvas);
Object.assign(canvas.style, { position: "absolute", left: `${box.x0}px`, top: `${box.y0}px`, width: `${W}px`,
                              height: `${H}px`, pointerEvents: "none", imageRendering: "pixelated", display: "block" });
canvas.width = W; canvas.height = H;
canvas.className = "aereport-transition";
const ctx = canvas.getContext("2d"), frame = ctx.createImageData(W, H), px = new Uint32Array(frame.data.buffer);
const dot = n < 20000 ? 2 : 1;  // few points: 2×2 pixels, or they vanish in a sparse frame
const u0 = d.u0, v0 = d.v0, u1 = d.u1, v1 = d.v1, c = d.c;
// GSAP's Power4.easeInOut, the seed's transition: slow out of the old layout, slow into the new.
const ease = (t) => t < 0.5 ? 16 * t ** 5 : 1 - 16 * (1 - t) ** 5;
const log = window.aereportTransitions || (window.aereportTransitions = {});
const rec = log[name] = { n, frames: 0, start: performance.now(), frame_ms: [], done: false, pixels: px, shape: [H, W] };
function draw(now) {
  const t0 = performance.now();
  const t = Math.min(1, Math.max(0, (now - rec.start) / duration)), p = ease(t);
  px.fill(0xffffffff);
  for (let i = 0; i < n; i++) {
    const x = Math.floor((u0[i] + (u1[i] - u0[i]) * p) * W), y = Math.floor((v0[i] + (v1[i] - v0[i]) * p) * H);
    if (x < 0 || y < 0 || x > W - dot || y > H - dot) continue;
    const col = palette[c[i]];
    for (let a = 0; a < dot; a++) for (let b = 0; b < dot; b++) px[(H - 1 - y - a) * W + x + b] = col;  // row 0 on top
  }
  ctx.putImageData(frame, 0, 0);
  rec.frames++; rec.t = t; rec.p = p;
  rec.frame_ms.push(performance.now() - t0);
  if (t < 1) { anim.raf = requestAnimationFrame(draw); return; }
  rec.done = true;
  rec.ms = performance.now() - rec.start;
  canvas.style.display = "none";  // the new layout's raster is under it by now
  points.data = { u0: [], v0: [], u1: [], v1: [], c: [] };  // nor need the server keep the columns
}
draw(rec.start);
