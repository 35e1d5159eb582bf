// Package engine is facematch's domain: from an uploaded photo to quality-checked, embedded
// faces (this file's [Pipeline]), and, in later stages, galleries, searches and reviews.
//
// The engine proposes candidates; people decide. Nothing here declares an identity: similarities
// come with a calibrated band, faces below the quality gate are reported with the reason, and
// embeddings from different models are never compared.
//
// The engine consumes small interfaces ([Detector], [Embedder]) that the models package
// satisfies, speaking package face's pure-Go types; it imports neither models nor any adapter
// (internal/lint checks it), so it builds and tests without cgo or ONNX Runtime.
package engine
