package engine

// ageCalibrations are the age models' measured ranges, by model identity (AgeCalibration).
var ageCalibrations = map[string]AgeCalibration{
	// face-api's AgeGenderNet on the YuNet box, 80% ranges, measured on UTKFace's exact ages
	// (1,946 faces, each weighted by 1/faces of its year), bench/RESULTS.md "Apparent age".
	"faceapi_age_gender@1a7e8974f6e8": {Model: "faceapi_age_gender@1a7e8974f6e8", Bins: []AgeBin{
		{5, -0.3, 3.5}, {10, -1.5, 5.2}, {14, -3.7, 4.8}, {18, -4.4, 6.4}, {22, -4.5, 7.8}, {26, -6.2, 10.3},
		{30, -7.7, 13.2}, {40, -9, 11.6}, {50, -9.6, 14.9}, {60, -10.1, 12.7}, {1000, -4.3, 20.4},
	}},
}

// AgeCalibrationFor returns the measured calibration of an age model.
func AgeCalibrationFor(identity string) (AgeCalibration, bool) {
	c, ok := ageCalibrations[identity]
	return c, ok
}
