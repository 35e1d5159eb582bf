package models

import (
	"context"
	"fmt"
	"image"
	"math"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facematch/facematch/face"
)

// The benchmarks time each stage of the pipeline next to the bare ONNX Runtime call on the same
// tensor ("bare" sub-benchmarks), so bench/run can report the pipeline's own overhead as a ratio.

var benchPhotos = []struct{ name, path string }{
	{"lfw250", "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg"},
	{"photo1920", "group_photos/vladmandic_sample1.jpg"},
}

func bareRun(b *testing.B, s *session, data []float32, shape ort.Shape) {
	in, err := ort.NewTensor(shape, data)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		outs := make([]ort.Value, len(s.manifest.Outputs))
		if err := s.run(ctx, []ort.Value{in}, outs); err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.Destroy()
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	for _, model := range []string{face.YuNetS, face.YuNetN, face.RetinaFace} {
		for _, threads := range []int{1, 2} {
			det, err := openRT(b).Detector(model, DetectorConfig{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			for _, ph := range benchPhotos {
				img := loadPhoto(b, ph.path)
				prefix := fmt.Sprintf("%s/%s/threads=%d", model, ph.name, threads)
				b.Run(prefix+"/pipeline", func(b *testing.B) {
					for b.Loop() {
						if _, err := det.Detect(context.Background(), img); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(prefix+"/bare", func(b *testing.B) {
					// The same padded tensor Detect builds, without the resize, fill or decoding.
					small := img
					if long := max(img.Rect.Dx(), img.Rect.Dy()); long > 640 {
						k := 640 / float64(long)
						small = shrinkArea(img, int(math.Round(float64(img.Rect.Dx())*k)), int(math.Round(float64(img.Rect.Dy())*k)))
					}
					pw, ph := (small.Rect.Dx()+31)/32*32, (small.Rect.Dy()+31)/32*32
					data := make([]float32, 3*pw*ph)
					fillPadded(data, small, pw, ph, det.sess.manifest.Color, det.sess.manifest.Mean)
					bareRun(b, det.sess, data, ort.NewShape(1, 3, int64(ph), int64(pw)))
				})
			}
		}
	}
}

func BenchmarkAlign(b *testing.B) {
	img := loadPhoto(b, "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg")
	det := detector(b, face.YuNetS)
	dets, err := det.Detect(context.Background(), img)
	if err != nil || len(dets) == 0 {
		b.Fatalf("no face: %v", err)
	}
	for _, name := range []string{face.Faceplugin512, face.Dlib128} {
		m := face.Builtin[name]
		b.Run(fmt.Sprintf("%s/%dpx", name, m.Size), func(b *testing.B) {
			for b.Loop() {
				face.Align(img, dets[0].Landmarks, m.Template, m.Size)
			}
		})
	}
}

// facesOf returns n landmark sets from the LFW photo (the same face repeated), so batches of any
// size embed real faces.
func facesOf(b *testing.B, img *image.NRGBA, n int) []face.Landmarks {
	dets, err := detector(b, face.YuNetS).Detect(context.Background(), img)
	if err != nil || len(dets) == 0 {
		b.Fatalf("no face: %v", err)
	}
	out := make([]face.Landmarks, n)
	for i := range out {
		out[i] = dets[0].Landmarks
	}
	return out
}

func BenchmarkEmbed(b *testing.B) {
	img := loadPhoto(b, "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg")
	for _, model := range []string{face.Faceplugin512, face.Dlib128} {
		for _, threads := range []int{1, 2} {
			rec := recognizer(b, model, RecognizerConfig{Threads: threads})
			for _, batch := range []int{1, 16} {
				faces := facesOf(b, img, batch)
				prefix := fmt.Sprintf("%s/batch=%d/threads=%d", model, batch, threads)
				b.Run(prefix+"/pipeline", func(b *testing.B) {
					for b.Loop() {
						if _, err := rec.Embed(context.Background(), img, faces); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*batch), "ms/face")
				})
				b.Run(prefix+"/bare", func(b *testing.B) {
					m := rec.sess.manifest
					per := 3 * m.Size * m.Size
					data := make([]float32, batch*per)
					crop := rec.AlignFace(img, faces[0])
					for i := 0; i < batch; i++ {
						fillTensor(data[i*per:(i+1)*per], crop, m.Color, m.Mean, m.Scale)
					}
					bareRun(b, rec.sess, data, ort.NewShape(int64(batch), 3, int64(m.Size), int64(m.Size)))
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*batch), "ms/face")
				})
			}
		}
	}
}

// BenchmarkDenormals shows the denormal trap of the 512-d model: the same bare call with
// flush-to-zero (the default) and without.
func BenchmarkDenormals(b *testing.B) {
	img := loadPhoto(b, "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg")
	faces := facesOf(b, img, 1)
	for _, keep := range []bool{false, true} {
		name := "flush-to-zero"
		if keep {
			name = "keep-denormals"
		}
		rec := recognizer(b, face.Faceplugin512, RecognizerConfig{Threads: 1, KeepDenormals: keep})
		b.Run(fmt.Sprintf("%s/threads=1", name), func(b *testing.B) {
			for b.Loop() {
				if _, err := rec.Embed(context.Background(), img, faces); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAgeEstimate times the age and gender model on one face (batch 1), as
// BenchmarkEmbed times the recognizers: the pipeline (face-api's crop from the detector's box,
// the tensor, the run) and the bare ONNX Runtime call on the same tensor.
func BenchmarkAgeEstimate(b *testing.B) {
	img := loadPhoto(b, "lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg")
	dets, err := detector(b, face.YuNetS).Detect(context.Background(), img)
	if err != nil || len(dets) == 0 {
		b.Fatalf("no face: %v", err)
	}
	box := BoxRect(dets[0].Box)
	for _, threads := range []int{1, 2} {
		est := ageEstimator(b, AgeConfig{Threads: threads})
		prefix := fmt.Sprintf("%s/batch=1/threads=%d", face.AgeGenderFaceAPI, threads)
		b.Run(prefix+"/pipeline", func(b *testing.B) {
			for b.Loop() {
				if _, err := est.Estimate(context.Background(), img, box); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/face")
		})
		b.Run(prefix+"/bare", func(b *testing.B) {
			crop, err := AgeCrop(img, box, 0)
			if err != nil {
				b.Fatal(err)
			}
			m := est.sess.manifest
			data := make([]float32, 3*m.Size*m.Size)
			fillTensor(data, crop, m.Color, m.Mean, m.Scale)
			bareRun(b, est.sess, data, ort.NewShape(1, 3, int64(m.Size), int64(m.Size)))
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/face")
		})
	}
}
