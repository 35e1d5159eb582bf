// Package models runs the face models: ONNX Runtime sessions and their lifecycle, the
// pre- and post-processing each network needs (resizing, tensor layout, detection decoding,
// NMS, normalisation) and the sha256 check of every model file before it is loaded.
//
// # Philosophy
//
// A model is data plus a contract. The contract lives in a [face.Manifest] (package face, pure
// Go, which the engine imports instead of this package); this package holds what needs cgo.
// Every embedding carries its model's identity so vectors from two models are never compared.
//
// # Workflow
//
//	rt, _ := models.Open(models.RuntimeConfig{Library: ".assets/lib/libonnxruntime.so.1", ModelDir: ".assets/models"})
//	det, _ := rt.Detector(face.YuNetS, models.DetectorConfig{})
//	rec, _ := rt.Recognizer(face.Faceplugin512, models.RecognizerConfig{})
//	dets, _ := det.Detect(ctx, img)
//	embs, _ := rec.Embed(ctx, img, landmarksOf(dets))
//
// # Key types
//
// [Runtime] owns the process-wide ONNX Runtime environment. [Detector] finds faces with five
// landmarks. [Recognizer] aligns and embeds them; [Fused] combines two recognizers at score level.
//
// This package decides nothing about matches and never logs pixels or embeddings.
package models
