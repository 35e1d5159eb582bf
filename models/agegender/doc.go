// Package agegender builds face-api.js's age and gender network (AgeGenderNet, MIT licence)
// from its TensorFlow.js weights: as an ONNX graph for ONNX Runtime ([Net.Model], [Net.ONNX])
// and as a slow pure-Go forward pass ([Net.Forward]) that the tests use to check the graph.
// cmd/ageconvert writes the ONNX file that scripts/setup pins; package models runs it.
//
// # The network
//
// Read from @vladmandic/face-api 1.7.15 (src/ageGenderNet, src/xception) and its weights
// manifest (model/age_gender_model-weights_manifest.json, 54 tensors, most uint8-quantized):
//
//   - input: a face crop padded to a square with black and resized to 112×112, RGB values
//     0..255; x = (rgb − (122.782, 117.001, 104.298)) / 255;
//   - TinyXception: a 3×3 stride-2 convolution to 32 channels and relu; reduction blocks to 64
//     and 128 channels (relu on the input except in the first, separable conv, relu, separable
//     conv, 3×3 stride-2 max pool, plus a 1×1 stride-2 convolution of the block's input); two
//     main blocks at 128 channels (three relu + separable conv steps and a residual); a
//     reduction block to 256; a separable conv to 512 and relu: a 7×7×512 map. Every
//     convolution uses TensorFlow's "same" padding;
//   - a 7×7 average pool (the mean of the 7×7 map), then two dense heads on the 512 values:
//     age (one value, years) and gender (two logits, softmax: male, female).
//
// About 95 million multiply-adds per face. The ONNX graph takes [N,3,112,112] raw RGB and does
// the normalisation itself, so a caller only fills pixel values.
package agegender
