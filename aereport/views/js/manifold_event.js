// CustomJS of the exported page's Decoder plane: the "decoded manifold" checkbox, and each zoom or
// pan while it is on, re-decode the grid of images over the viewport (window.aereport.manifold,
// runtime.js); off, the grid is hidden.
// args: box (the Checkbox), renderer (the manifold's image renderer), plot (the plane), xr, yr
if (box.active) {
  const view = Bokeh.index.find_one(plot), frame = view ? view.frame.bbox : { width: plot.width, height: plot.height };
  window.aereport.manifold(renderer, [xr.start, xr.end, yr.start, yr.end], frame.width, frame.height);
} else {
  renderer.visible = false;
}
