// Load a TF.js LayersModel from a folder and print its predictions for the inputs given as JSON.
// usage: node predict.mjs MODEL_DIR INPUTS.json   (inputs: nested array, batch first)
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";

const [dir, inputsFile] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
const group = manifest.weightsManifest[0];
const buffers = group.paths.map((p) => fs.readFileSync(path.join(dir, p)));
const all = Buffer.concat(buffers);
const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
await tf.setBackend("cpu");
const model = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: manifest.modelTopology, weightSpecs: group.weights, weightData }));
const x = tf.tensor(JSON.parse(fs.readFileSync(inputsFile, "utf8")));
const y = model.predict(x);
process.stdout.write(JSON.stringify({ shape: y.shape, data: Array.from(await y.data()) }));
