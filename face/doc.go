// Package face holds what the domain knows about faces without running a model: detections
// and their five landmarks, embeddings and the model identities they carry, the five-point
// alignment, the pose and sharpness measures the quality gate reads, and the manifests that
// describe each built-in model.
//
// # Philosophy
//
// Everything here is pure Go, so that the engine, the API and the adapters build and test
// without cgo or ONNX Runtime. Package models runs the networks and returns these types;
// package engine consumes them. A model is data plus a contract: the contract (input size,
// colour order, normalisation, alignment template, output dimension, licence) lives in a
// [Manifest] beside the file's sha256, and every [Embedding] carries its model's identity
// ([Manifest.Identity]) so vectors from two models are never compared.
//
// # Key types
//
// [Detection] is a face's box, [Landmarks] and score. [Align] warps a face onto a template;
// [Sharpness] and [EstimatePose] measure it. [Embedding] is a unit vector and its model's
// identity. [Builtin] lists the models; [FusedIdentity] names their score-level fusion.
package face
