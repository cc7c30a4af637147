"""JavaScript the browser tests run in a page to read and drive its Bokeh document.

Each constant is a function of one argument for ``page.evaluate``. They find models by the names
the package gives them, and a plot by one of its renderers or annotations, through the lookups
of ``PRELUDE``, which every one of them starts with.
"""
from __future__ import annotations

PRELUDE = """
  const models = () => Bokeh.documents.flatMap((doc) => [...doc.all_models]);
  const named = (name) => models().find((m) => ['GlyphRenderer', 'Label', 'Arrow'].includes(m.type) && m.name == name) ?? null;
  const figureOf = (r) => models().find((m) => m.type == 'Figure' && [...m.renderers, ...m.center].includes(r)) ?? null;
  const viewOf = (name) => Bokeh.index.find_one(figureOf(named(name)));
"""


def page_fn(body: str) -> str:
    """``body``, a JavaScript function of one argument, with ``PRELUDE``'s lookups in scope.

    >>> page.evaluate(page_fn("(name) => named(name).visible"), "decoder-marker")  # doctest: +SKIP
    True
    """
    return "(arg) => {" + PRELUDE + "  return (" + body + ")(arg);\n}"


# A named renderer's data (a label's: its position, an arrow's: its two ends; none while hidden).
READ = page_fn("""(name) => {
  const m = named(name);
  if (m === null) return null;
  if (m.type == 'Label') return m.visible ? {x: [m.x], y: [m.y]} : {x: [], y: []};
  const value = (p) => (p !== null && typeof p == 'object' && 'value' in p) ? p.value : p;  // an arrow's ends are specs
  if (m.type == 'Arrow') return m.visible ? {x: [m.x_start, m.x_end].map(value), y: [m.y_start, m.y_end].map(value)}
                                          : {x: [], y: []};
  const d = m.data_source.data, out = {};
  for (const k of Object.keys(d)) {
    const v = d[k][0];
    out[k] = (v && v.length !== undefined && typeof v !== 'string') ? Array.from(v) : Array.from(d[k]);
  }
  if (d.image) { out.shape = d.image[0].shape; }
  return out; }""")

# Screen position of a fraction (fx, fy) of the plot frame holding the named renderer.
LOCATE = page_fn("""([name, fx, fy]) => {
  const v = viewOf(name), rect = v.el.getBoundingClientRect(), f = v.frame.bbox;
  return [rect.left + f.x0 + f.width * fx, rect.top + f.y0 + f.height * fy]; }""")

# Data coordinates of a screen point over the plot holding the named renderer.
DATA_AT = page_fn("""([name, px, py]) => {
  const v = viewOf(name), rect = v.el.getBoundingClientRect();
  return [v.frame.x_scale.invert(px - rect.left), v.frame.y_scale.invert(py - rect.top)]; }""")

# Screen position of data coordinates (x, y) over the plot holding the named renderer.
SCREEN_AT = page_fn("""([name, x, y]) => {
  const v = viewOf(name), rect = v.el.getBoundingClientRect();
  return [rect.left + v.frame.x_scale.compute(x), rect.top + v.frame.y_scale.compute(y)]; }""")

# The inner size of the plot frame holding the named renderer, in CSS pixels: [width, height].
FRAME_SIZE = page_fn("""(name) => {
  const f = viewOf(name).frame.bbox;
  return [f.width, f.height]; }""")

# The title of the plot holding the named renderer: [its text's width in its own font, the
# room the plot gives it] (a longer title is cut off at the plot's edge). [name, text]: the
# width of that text instead, as the title would draw it.
TITLE_ROOM = page_fn("""(arg) => {
  const [name, text] = Array.isArray(arg) ? arg : [arg, null];
  const fig = figureOf(named(name)), t = fig.title, ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${t.text_font_style} ${t.text_font_size} ${t.text_font}`;
  const view = viewOf(name);  // a title starts over the frame's left edge and may run to the plot's right one
  return [ctx.measureText(text ?? t.text).width, view.bbox.width - view.frame.bbox.x0 - t.offset]; }""")

# The axes of the plot holding the named renderer: [x0, x1, y0, y1].
RANGES = page_fn("""(name) => {
  const fig = figureOf(named(name));
  return fig && [fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end]; }""")

# The title of the plot holding the named renderer.
TITLE = page_fn("""(name) => {
  const fig = figureOf(named(name));
  return fig && fig.title.text; }""")

# Whether the plot holding the named renderer is drawn on the page now (a tab's plots leave the
# page when another tab is opened, though BokehJS keeps their models).
DRAWN = page_fn("""(name) => {
  const fig = figureOf(named(name));
  return !!fig && !!Bokeh.index.find_one(fig); }""")

# Waits for a frame of the layout transition between 20 % and 80 % of its time, and returns it
# (the drawn pixels that are not background), its time and progress, and the points' columns.
MID_FLIGHT = page_fn("""(name) => new Promise((resolve) => {
  const points = named(name).tags[0], deadline = performance.now() + 20000;
  function look() { try { step(); } catch (e) { resolve({missed: String(e)}); } }
  function step() {
    const rec = (window.aereportTransitions || {})[name];
    if (performance.now() > deadline) { resolve({missed: rec ? {frames: rec.frames, t: rec.t, done: rec.done} : null}); return; }
    if (!rec || rec.done || rec.t < 0.2 || rec.t > 0.8) { requestAnimationFrame(look); return; }
    const img = rec.pixels, idx = [], col = [];
    for (let i = 0; i < img.length; i++) if (img[i] !== 0xffffffff) { idx.push(i); col.push(img[i]); }
    const d = points.data, cols = {};
    for (const k of ['u0', 'v0', 'u1', 'v1', 'c']) cols[k] = Array.from(d[k]);
    const canvas = points._aereport.canvas, box = viewOf(name).frame.bbox;
    resolve({t: rec.t, p: rec.p, shape: rec.shape, idx, col, cols, shown: canvas.isConnected && canvas.style.display == 'block',
             size: [canvas.width, canvas.height], frame: [Math.round(box.width), Math.round(box.height)]});
  }
  look(); })""")

# Whether the transition's canvas is on screen.
TRANSITION_SHOWN = page_fn("""(name) => {
  const c = named(name).tags[0]._aereport?.canvas;
  return !!c && c.isConnected && c.style.display == 'block'; }""")

# Counts, from now on, the repaints of each canvas layer of the plot holding the named label:
# window.repaints[name] = {primary, overlays}.
COUNT_REPAINTS = page_fn("""(name) => {
  const canvas = viewOf(name).canvas_view, count = {primary: 0, overlays: 0};
  for (const layer of ['primary', 'overlays']) {
    const l = canvas[layer], prepare = l.prepare.bind(l);
    l.prepare = () => { count[layer]++; return prepare(); };
  }
  (window.repaints = window.repaints || {})[name] = count; }""")

# Resolves after the page has drawn twice more: what was changed before is on screen.
TWO_FRAMES = "() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))"

# Puts the named label at data coordinates (x, y), shown or hidden.
PLACE_LABEL = page_fn("""([name, x, y, visible]) => { named(name).setv({x, y, visible}); }""")
