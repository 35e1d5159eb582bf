// Package tfjs reads TensorFlow.js weights: a weights manifest (JSON) and the binary shards it
// names, decoded into named float32 or int32 tensors with their shapes. It is pure Go and runs
// no network; package models/agegender builds an ONNX graph from what it returns.
//
// # Formats
//
// A weights manifest is a JSON array of groups (the file TensorFlow.js writes as
// *-weights_manifest.json), or the "weightsManifest" field of a model.json. Each group names
// its shard files ("paths", relative to the manifest) and its weights in storage order; the
// shards of a group are concatenated and the weights read one after another from the result:
//
//	[{"paths": ["model.bin"], "weights": [
//	  {"name": "conv/filters", "shape": [3,3,3,32], "dtype": "float32",
//	   "quantization": {"dtype": "uint8", "scale": 0.0054, "min": -0.744}},
//	  {"name": "conv/bias", "shape": [32], "dtype": "float32"}]}]
//
// Values are little-endian. A weight without "quantization" is stored in its own dtype (float32
// or int32, 4 bytes each). A quantized weight is stored as uint8 or uint16 q and decoded as
// q·scale + min (rounded for int32), or as IEEE half floats ("float16", float32 weights only),
// exactly as TensorFlow.js's io.decodeWeights does: the affine step is computed in float64 and
// rounded once to float32, so the tensors are bit-identical to the ones TensorFlow.js builds.
// The "original_dtype" field some writers add to "quantization" must agree with "dtype" when
// present. string, bool and complex64 weights are refused with [ErrUnsupported].
//
// # Untrusted input
//
// Manifests and shards are parsed as untrusted bytes: no input makes this package panic or
// allocate more than the shard bytes it was given justify (a tensor's size is checked against
// the bytes left before it is allocated). Shard paths must stay inside the manifest's
// directory of the [fs.FS] they are read from.
package tfjs
