// age_gender_tfjs.mjs: a one-off, not run by CI or the tests. It wrote age_gender_tfjs.json,
// the outputs of face-api.js's own AgeGenderNet code on TensorFlow.js (CPU backend) for the
// inputs TestAgeGenderMatchesTFJS builds, which the pure-Go reference is checked against.
//
// To regenerate (node 20; nothing is installed, the tarball carries face-api and TensorFlow.js):
//
//	go test ./models -run '^TestAgeGenderMatchesTFJS$' -age.dump DIR   # writes DIR/*.f32, DIR/inputs.txt
//	(cd SOMEWHERE && npm pack @vladmandic/face-api@1.7.15 && tar -xzf vladmandic-face-api-1.7.15.tgz)
//	node models/testdata/age_gender_tfjs.mjs SOMEWHERE/package DIR > models/testdata/age_gender_tfjs.json
//
// Each input is 3×112×112 float32 (little-endian, channels first, raw RGB 0..255). It goes to
// the network as the HWC tensor face-api builds from an image, through face-api's forward
// (toBatchTensor, the mean subtraction, /255, TinyXception, the heads and the softmax).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [pkg, dir] = process.argv.slice(2);
if (!pkg || !dir) {
  console.error('usage: node age_gender_tfjs.mjs FACE_API_PACKAGE_DIR INPUT_DIR');
  process.exit(2);
}

// face-api's ESM bundle carries TensorFlow.js; its Node platform shim expects a CommonJS
// `util`, so let it take the browser path, which on Node 20 finds fetch and TextEncoder.
globalThis.window = globalThis;
globalThis.document = {};
const faceapi = await import(path.resolve(pkg, 'dist/face-api.esm.js'));
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();

const modelDir = path.join(pkg, 'model');
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'age_gender_model-weights_manifest.json')));
const shards = manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
const bin = Buffer.concat(shards);
const specs = manifest.flatMap((g) => g.weights);
const weights = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length), specs);
faceapi.nets.ageGenderNet.loadFromWeightMap(weights);

const inputs = [];
for (const name of fs.readFileSync(path.join(dir, 'inputs.txt'), 'utf8').split('\n').filter(Boolean)) {
  const raw = fs.readFileSync(path.join(dir, `${name}.f32`));
  const chw = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const x = tf.tidy(() => tf.tensor4d(chw, [1, 3, 112, 112]).transpose([0, 2, 3, 1]));
  const out = await faceapi.nets.ageGenderNet.forward(x);
  const age = out.age.dataSync()[0];
  const [male, female] = out.gender.dataSync();
  tf.dispose([x, out.age, out.gender]);
  inputs.push({ name, input_sha256: crypto.createHash('sha256').update(raw).digest('hex'), age, male, female });
}

console.log(JSON.stringify({
  generator: 'models/testdata/age_gender_tfjs.mjs',
  tfjs: tf.version_core,
  backend: tf.getBackend(),
  faceapi: faceapi.version,
  inputs,
}, null, 2));
