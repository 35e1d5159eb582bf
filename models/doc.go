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
//	age, _ := rt.AgeEstimator(face.AgeGenderFaceAPI, models.AgeConfig{})
//	ag, _ := age.Estimate(ctx, img, models.BoxRect(dets[0].Box)) // ag.Age, ag.Male, ag.Female
//
// # Key types
//
// [Runtime] owns the process-wide ONNX Runtime environment. [Detector] finds faces with five
// landmarks. [Recognizer] aligns and embeds them; [Fused] combines two recognizers at score level.
// [AgeEstimator] estimates apparent age and gender from a face's detector box.
//
// # The age and gender model
//
// face-api.js's AgeGenderNet (MIT: face-api.js by Vincent Mühler, and the npm package
// @vladmandic/face-api 1.7.15 whose LICENSE, by Vladimir Mandic, scripts/setup keeps beside the
// TensorFlow.js weights it ships) runs here as an ONNX model that scripts/setup converts with
// cmd/ageconvert: models/tfjs reads the weights, models/agegender lays the network out as an
// ONNX graph (models/onnxwrite writes it) and keeps a pure-Go forward pass, which the tests check
// against TensorFlow.js's own outputs (testdata/age_gender_tfjs.json) and then the ONNX model
// against. The crop is face-api's rule on the detector's box ([AgeCrop]): clipped to the image,
// padded to a square with black, 112×112. Its output is apparent age, for triage by people;
// face-api trained it on UTKFace, FG-NET, ChaLearn, Wiki, IMDB, CACD and MegaAge, so scores on
// UTKFace are optimistic.
//
// This package decides nothing about matches and never logs pixels or embeddings.
package models
