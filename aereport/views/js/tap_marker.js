// CustomJS of a plane's tap (and drag): the marker jumps to the tap in the page at once; the server
// only sends the decoded image. Bokeh reports taps on a plot's axes too, at positions off the
// plane: those are not taken.
// args: marker (a Label), xr, yr (the plot's ranges)
const inside = (v, r) => v >= Math.min(r.start, r.end) && v <= Math.max(r.start, r.end);
if (inside(cb_obj.x, xr) && inside(cb_obj.y, yr)) marker.setv({ x: cb_obj.x, y: cb_obj.y });
