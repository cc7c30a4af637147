// CustomJS of the exported page's Decoder plane: a tap on the plane runs the decoder in the page
// (window.aereport.decode, runtime.js), then moves the marker and says where it decoded.
// A code wider than the plane also gets its traversal (window.aereport.traverse) redrawn.
// args: marker (a Label), image (the image's source), label (a Div), xr, yr (the plot's ranges),
// traversal (the traversal's image source, or null)
const inside = (v, r) => v >= Math.min(r.start, r.end) && v <= Math.max(r.start, r.end);
if (inside(cb_obj.x, xr) && inside(cb_obj.y, yr)) {
  window.aereport.traverse(cb_obj.x, cb_obj.y, traversal);
  window.aereport.decode(cb_obj.x, cb_obj.y, image).then(() => {
    marker.setv({ x: cb_obj.x, y: cb_obj.y });
    label.text = `decoded at (${cb_obj.x.toPrecision(4)}, ${cb_obj.y.toPrecision(4)})`;
  });
}
