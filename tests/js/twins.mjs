// The page's arithmetic (aereport/views/js/math.js) on the cases Python wrote: prints its answers.
// usage: node twins.mjs CASES.json   (see tests/test_js.py)
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const M = require("../../aereport/views/js/math.js");
const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const f = cases.field;
const out = {
  field: cases.points.map(([x, y]) => M.fieldCode(f, x, y)),
  position: cases.fractions.map(([q, lo, hi]) => M.position(q, lo, hi)),
  box: cases.box.points.map(([x, y]) => M.inBox(x, y, ...cases.box.bounds)),
  polygon: cases.polygon.points.map(([x, y]) => M.inPolygon(x, y, cases.polygon.xs, cases.polygon.ys)),
  manifoldShape: cases.manifold.sizes.map(([width, height, h, w]) => M.manifoldShape(width, height, h, w)),
  manifoldCentres: cases.manifold.grids.map(([bounds, nx, ny]) => M.manifoldCentres(bounds, nx, ny)),
};
process.stdout.write(JSON.stringify(out));
