module github.com/facematch/facematch

go 1.26.8

require (
	github.com/disintegration/imaging v1.6.2
	github.com/yalue/onnxruntime_go v1.27.0
	golang.org/x/image v0.48.0
)
