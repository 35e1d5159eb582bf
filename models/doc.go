// Package models runs the face models: ONNX Runtime sessions and their lifecycle, the
// pre- and post-processing each model needs (detection decoding, NMS, five-point alignment,
// normalisation) and the manifests that pin every model file by sha256.
//
// # Philosophy
//
// A model is data plus a contract. The contract (input size, colour order, normalisation,
// alignment template, output dimension, licence) lives in a [Manifest] beside the file's
// sha256, and every embedding carries its model's identity ([Manifest.Identity]) so vectors
// from two models are never compared.
//
// # Workflow
//
//	rt, _ := models.Open(models.RuntimeConfig{Library: ".assets/lib/libonnxruntime.so.1", ModelDir: ".assets/models"})
//	det, _ := rt.Detector(models.YuNetS, models.DetectorConfig{})
//	rec, _ := rt.Recognizer(models.Faceplugin512, models.RecognizerConfig{})
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
