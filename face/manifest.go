package face

// Role says what a model does.
type Role string

const (
	RoleDetector   Role = "detector"
	RoleRecognizer Role = "recognizer"
	// RoleAgeGender models estimate apparent age and gender from a face crop.
	RoleAgeGender Role = "age_gender"
)

// ColorOrder is the channel order a model expects.
type ColorOrder string

const (
	RGB ColorOrder = "RGB"
	BGR ColorOrder = "BGR"
)

// Manifest describes one model file and the contract for running it. Values come from
// ../shared/models/MANIFEST.md, where each was checked against the model's upstream code.
type Manifest struct {
	Name    string // short stable name used in configuration and on the command line
	Role    Role
	File    string // file name inside the model directory
	SHA256  string // of the exact file bytes; checked on every load
	Licence string
	Source  string

	Input   string   // input tensor name
	Outputs []string // output tensor names, in the order the decoder reads them

	// Recognizer contract.
	Size     int        // square input side in pixels (112 or 150)
	Color    ColorOrder // channel order of the input tensor
	Mean     [3]float32 // subtracted per channel, in the model's channel order
	Scale    float32    // multiplied after the mean is subtracted
	Template [5]Point   // where the five landmarks land in the aligned crop
	Dim      int        // embedding dimension

	// Denormals marks models whose weights and activations contain denormal floats, which
	// make x86 CPUs ~13× slower unless flush-to-zero is on (see models/denormal_amd64.go).
	Denormals bool
}

// Identity names the model and the exact bytes behind it. Every embedding carries it, and
// two embeddings are comparable only when their identities are equal.
func (m Manifest) Identity() string { return m.Name + "@" + m.SHA256[:12] }

// Names of the built-in models.
const (
	YuNetS        = "yunet_s"
	YuNetN        = "yunet_n"
	RetinaFace    = "retinaface_mnet025"
	Faceplugin512 = "faceplugin512"
	Dlib128       = "dlib128"

	// AgeGenderFaceAPI is face-api.js's AgeGenderNet, converted to ONNX by scripts/setup.
	AgeGenderFaceAPI = "faceapi_age_gender"
)

// ArcFace 112×112 five-point template (insightface), for the 512-d recognizer.
var arcFaceTemplate = [5]Point{{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}}

// dlib 150×150 chip with padding 0.25 (get_face_chip_details), the same five points placed
// from dlib's mean face. Feeding the dlib net the ArcFace crop scaled to 150 costs ~14 points
// of LFW accuracy, so the template matters.
var dlibTemplate = [5]Point{{47.549, 46.599}, {100.476, 46.599}, {74.013, 76.563}, {50.415, 103.023}, {97.610, 103.023}}

var yunetOutputs = []string{"cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32", "bbox_8", "bbox_16", "bbox_32", "kps_8", "kps_16", "kps_32"}

// Builtin lists the models facematch knows, keyed by name.
var Builtin = map[string]Manifest{
	YuNetS: {
		Name: YuNetS, Role: RoleDetector, File: "yunet_s_dynamic.onnx",
		SHA256:  "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3",
		Licence: "Apache-2.0", Source: "github.com/ShiqiYu/libfacedetection.train@0047ac24 onnx/yunet_s_dynamic.onnx",
		Input: "input", Outputs: yunetOutputs, Color: BGR,
	},
	YuNetN: {
		Name: YuNetN, Role: RoleDetector, File: "yunet_n_dynamic.onnx",
		SHA256:  "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
		Licence: "Apache-2.0", Source: "github.com/ShiqiYu/libfacedetection.train@0047ac24 onnx/yunet_n_dynamic.onnx",
		Input: "input", Outputs: yunetOutputs, Color: BGR,
	},
	RetinaFace: {
		Name: RetinaFace, Role: RoleDetector, File: "retinaface_mbnet0.25.onnx",
		SHA256:  "13a69f2cb3012162ccce8466b1cd9e445ae1337ae641f31c90419e6179f13650",
		Licence: "Apache-2.0 (weights MIT)", Source: "github.com/ShiqiYu/libfacedetection.train@589da0cd onnx/retinaface_mbnet0.25.onnx",
		Input: "input", Outputs: []string{"loc", "conf", "iou"}, Color: BGR,
		Mean: [3]float32{104, 117, 123}, Scale: 1,
	},
	Faceplugin512: {
		Name: Faceplugin512, Role: RoleRecognizer, File: "faceplugin_fr_feature_dynbatch.onnx",
		SHA256:  "35eaaded89c978f77fb71a7a9321f3deecc8485fd320a0b35ea7cf8a9e3f60ea",
		Licence: "MIT per npm; provenance unknown (no training data or code named)",
		Source:  "npm faceplugin-face-recognition-js@0.0.1 model/fr_feature.onnx, batch dimension made symbolic",
		Input:   "input", Outputs: []string{"output"},
		// The upstream JS feeds RGB, but BGR scores better on LFW (99.15% vs 98.97%).
		Size: 112, Color: BGR, Mean: [3]float32{127, 127, 127}, Scale: 1.0 / 128,
		Template: arcFaceTemplate, Dim: 512, Denormals: true,
	},
	Dlib128: {
		Name: Dlib128, Role: RoleRecognizer, File: "faceapi_dlib_resnet29.onnx",
		SHA256:  "49e3742114abf9d6a4f584280584719a92d0b19ca7648c7ef40618555e55d2b3",
		Licence: "weights public domain (dlib); face-api.js MIT",
		Source:  "npm @vladmandic/face-api@1.7.15 face_recognition_model, de-quantized, face-api.js architecture",
		Input:   "input", Outputs: []string{"output"},
		Size: 150, Color: RGB, Mean: [3]float32{122.782, 117.001, 104.298}, Scale: 1.0 / 256,
		Template: dlibTemplate, Dim: 128,
	},
	// Not in ../shared/models: scripts/setup converts it (cmd/ageconvert, deterministic) from
	// the TensorFlow.js weights of the npm package below and checks this sha256.
	AgeGenderFaceAPI: {
		Name: AgeGenderFaceAPI, Role: RoleAgeGender, File: "age_gender_faceapi.onnx",
		SHA256:  "1a7e8974f6e81a2ec381b0306946c837ee9c5575a000117903f3bbbf4dd6a662",
		Licence: "MIT (face-api.js, @vladmandic/face-api); trained on UTKFace, FG-NET, ChaLearn, Wiki, IMDB, CACD and MegaAge, some of them licensed for non-commercial research only",
		Source:  "npm @vladmandic/face-api@1.7.15 model/age_gender_model (TensorFlow.js, uint8-quantized), converted to ONNX by models/agegender",
		Input:   "input", Outputs: []string{"age", "gender"},
		// RGB 0..255 as is: the graph subtracts face-api's means and divides by 255 itself.
		Size: 112, Color: RGB, Scale: 1,
	},
}
