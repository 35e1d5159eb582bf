// Package ingestbench measures an ingest job end to end (`facematch bench ingest`): a photo
// tree (LFW) ingested into a fresh collection, cross-matched against a reference gallery of
// one photo each of some of its people, against the bound of the bare model calls on the same
// cores. bench/RESULTS.md quotes it.
package ingestbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/internal/app"
	"github.com/facematch/facematch/models/decode"
)

// Result is what `facematch bench ingest` measures.
type Result struct {
	Machine    string  `json:"machine"`
	Workers    int     `json:"workers"`
	Threads    int     `json:"ort_threads"`
	Recognizer string  `json:"recognizer"`
	References int     `json:"references"`
	Files      int     `json:"files"`
	Stored     int     `json:"stored"`
	Failed     int     `json:"failed"`
	NoFace     int     `json:"no_face"`
	Faces      int     `json:"faces"`
	Matches    int     `json:"matches"`
	Seconds    float64 `json:"seconds"`
	ImagesPerS float64 `json:"images_per_s"`
	FacesPerS  float64 `json:"faces_per_s"`
	PeakRSSMiB int64   `json:"peak_rss_mib"`
	// The bound: the bare model calls (decode, detect, embed every detected face) over a
	// sample of the same photos, on the same workers and sessions, with nothing else.
	BoundSample     int       `json:"bound_sample"`
	BoundImagesPerS float64   `json:"bound_images_per_s"`
	BoundByWorkers  []float64 `json:"bound_by_workers"` // one worker per core, then the pipeline's count
	DecodeMs        float64   `json:"decode_ms"`
	DetectMs        float64   `json:"detect_ms"`
	EmbedMs         float64   `json:"embed_ms"`
	Ratio           float64   `json:"ratio"` // images/s ÷ bound images/s
	// MateTop1 is, over collection photos of the reference people (their reference photo
	// excluded), the share whose face's first candidate is the right person.
	MateTop1 float64 `json:"mate_top1"`
	Mates    int     `json:"mates"`
	// Placed faces joined suggested persons as the job stored them (in the job's committer,
	// one index search each); PlaceSeconds is that work's time, PlaceShare its share of the
	// job's wall time.
	Placed       int64   `json:"placed_faces"`
	PlaceSeconds float64 `json:"place_seconds"`
	PlaceShare   float64 `json:"place_share"`
}

// Config is what Run measures.
type Config struct {
	Photos     string // photo tree, one folder per person
	Refs       int    // reference people (one photo each; people with two or more photos first)
	Sample     int    // photos the bound is measured on
	Workers    int    // the job's workers (0: the service's default, one more than the CPUs)
	Threads    int    // ONNX Runtime threads per model, for the report
	CPUProfile string // write a CPU profile of the ingest to this file ("": none)
	Logf       func(format string, args ...any)
}

// Run measures the ingest on a, an app opened on a fresh data directory that may read any
// local path.
func Run(ctx context.Context, a *app.App, cfg Config) (Result, error) {
	p := a.Models.Pipeline()
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0) + 1 // the service's default
	}
	res := Result{Machine: Machine(), Workers: workers, Threads: cfg.Threads, Recognizer: a.Models.Default}

	people, err := peopleOf(cfg.Photos)
	if err != nil {
		return res, err
	}
	var all []string
	for _, ph := range people {
		all = append(all, ph.files...)
	}
	sort.Strings(all)

	// The bound first, on a sample spread over the tree.
	step := max(1, len(all)/max(1, cfg.Sample))
	var sampled []string
	for i := 0; i < len(all) && len(sampled) < cfg.Sample; i += step {
		sampled = append(sampled, all[i])
	}
	// The bound is the better of the bare calls on one worker per core and on the pipeline's
	// worker count, so that extra workers cannot flatter the ratio.
	for _, w := range []int{runtime.GOMAXPROCS(0), workers} {
		var b Result
		if err := measureBound(ctx, p, sampled, w, &b); err != nil {
			return res, err
		}
		cfg.Logf("bound: %.1f images/s on %d workers (decode %.2f ms, detect %.2f ms, embed %.2f ms per image and worker)", b.BoundImagesPerS, w, b.DecodeMs, b.DetectMs, b.EmbedMs)
		res.BoundByWorkers = append(res.BoundByWorkers, b.BoundImagesPerS)
		if b.BoundImagesPerS > res.BoundImagesPerS {
			res.BoundSample, res.BoundImagesPerS, res.DecodeMs, res.DetectMs, res.EmbedMs = b.BoundSample, b.BoundImagesPerS, b.DecodeMs, b.DetectMs, b.EmbedMs
		}
	}

	// The reference gallery: one photo of each of the first --refs people with two or more.
	bench := engine.Actor{Name: "bench"}
	ref, err := a.Service.CreateGallery(ctx, bench, "bench-references", engine.Reference, "")
	if err != nil {
		return res, err
	}
	subjectPerson := map[int64]string{}
	refPhoto := map[string]bool{}
	sort.SliceStable(people, func(i, j int) bool { return len(people[i].files) >= 2 && len(people[j].files) < 2 })
	for _, ph := range people {
		if res.References == cfg.Refs {
			break
		}
		data, err := os.ReadFile(ph.files[0])
		if err != nil {
			return res, err
		}
		s, err := a.Service.CreateSubject(ctx, bench, engine.Subject{GalleryID: ref.ID, Name: ph.name})
		if err != nil {
			return res, err
		}
		if _, err := a.Service.AddImage(ctx, bench, engine.Upload{GalleryID: ref.ID, SubjectID: &s.ID, Data: data}); err != nil {
			continue // no usable face: another person takes the place
		}
		subjectPerson[s.ID] = ph.name
		refPhoto[ph.files[0]] = true
		res.References++
	}
	coll, err := a.Service.CreateGallery(ctx, bench, "bench-collection", engine.Collection, "")
	if err != nil {
		return res, err
	}
	abs, err := filepath.Abs(cfg.Photos)
	if err != nil {
		return res, err
	}
	j, err := a.Service.CreateJob(ctx, bench, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID,
		Spec: engine.JobSpec{Source: abs, CrossMatch: []int64{ref.ID}, Purpose: "bench"}})
	if err != nil {
		return res, err
	}
	cfg.Logf("ingesting %d photos with %d workers, cross-matched against %d people", len(all), workers, res.References)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	last := start
	j, err = a.Service.RunJob(ctx, j.ID, func(j engine.Job) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			cfg.Logf("%d/%d files, %.1f/s", j.Processed, j.Total, float64(j.Processed)/time.Since(start).Seconds())
		}
	})
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	placed, took := a.Service.PlacingCost()
	res.Placed, res.PlaceSeconds, res.PlaceShare = placed, took.Seconds(), took.Seconds()/res.Seconds
	res.Files, res.Stored, res.Failed, res.NoFace, res.Faces, res.Matches = j.Processed, j.Stored+j.Duplicates, j.Failed, j.NoFace, j.Faces, j.Matches
	res.ImagesPerS = float64(j.Processed) / res.Seconds
	res.FacesPerS = float64(j.Faces) / res.Seconds
	res.PeakRSSMiB = app.PeakRSS() >> 20
	res.Ratio = res.ImagesPerS / res.BoundImagesPerS
	if err := mateTop1(ctx, a, j, abs, subjectPerson, refPhoto, &res); err != nil {
		return res, err
	}
	return res, nil
}

type person struct {
	name  string
	files []string
}

func peopleOf(root string) ([]person, error) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []person
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, d.Name(), "*.jpg"))
		sort.Strings(files)
		if len(files) > 0 {
			out = append(out, person{d.Name(), files})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no person folders of .jpg photos", root)
	}
	return out, nil
}

// measureBound runs decode, detect and embed alone over the sample on the given workers and
// times each call.
func measureBound(ctx context.Context, p *engine.Pipeline, files []string, workers int, res *Result) error {
	data := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		data[i] = b
	}
	var mu sync.Mutex
	var dec, det, emb time.Duration
	next := make(chan []byte)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d1, d2, d3 time.Duration
			defer func() { mu.Lock(); dec, det, emb = dec+d1, det+d2, emb+d3; mu.Unlock() }()
			for b := range next {
				t0 := time.Now()
				img, _, err := decode.Image(b, p.Limits)
				if err != nil {
					errs <- err
					return
				}
				t1 := time.Now()
				dets, err := p.Detector.Detect(ctx, img)
				if err != nil {
					errs <- err
					return
				}
				t2 := time.Now()
				if len(dets) > 0 {
					lms := make([]face.Landmarks, len(dets))
					for i, d := range dets {
						lms[i] = d.Landmarks
					}
					if _, err := p.Embedder.Embed(ctx, img, lms); err != nil {
						errs <- err
						return
					}
				}
				d1, d2, d3 = d1+t1.Sub(t0), d2+t2.Sub(t1), d3+time.Since(t2)
			}
		}()
	}
	for _, b := range data {
		next <- b
	}
	close(next)
	wg.Wait()
	el := time.Since(start)
	select {
	case err := <-errs:
		return fmt.Errorf("bound: %w", err)
	default:
	}
	n := float64(len(data))
	res.BoundSample = len(data)
	res.BoundImagesPerS = n / el.Seconds()
	res.DecodeMs, res.DetectMs, res.EmbedMs = ms(dec)/n, ms(det)/n, ms(emb)/n
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// mateTop1 checks the cross-match: each collection photo of a reference person (not their
// reference photo) should have that person as its first candidate.
func mateTop1(ctx context.Context, a *app.App, j engine.Job, root string, subjectPerson map[int64]string, refPhoto map[string]bool, res *Result) error {
	refPeople := map[string]bool{}
	for _, p := range subjectPerson {
		refPeople[p] = true
	}
	imagePerson := map[int64]string{}
	for after := ""; ; {
		items, err := a.Service.JobItems(ctx, engine.Actor{}, j.ID, "", after, 1000)
		if err != nil {
			return err
		}
		for _, it := range items {
			person := filepath.Dir(it.Name)
			if it.ImageID != nil && refPeople[person] && !refPhoto[filepath.Join(root, it.Name)] {
				imagePerson[*it.ImageID] = person
			}
		}
		if len(items) < 1000 {
			break
		}
		after = items[len(items)-1].Name
	}
	top := map[int64]string{} // image → person of its best first-ranked candidate
	best := map[int64]float32{}
	for cursor := int64(0); ; {
		ms, err := a.Catalog.Matches(ctx, engine.MatchFilter{SearchID: *j.SearchID, Cursor: cursor, Limit: 500})
		if err != nil {
			return err
		}
		for _, mt := range ms {
			if mt.Rank != 1 || mt.SubjectID == nil {
				continue
			}
			pf, err := a.Catalog.ProbeFace(ctx, mt.ProbeFaceID)
			if err != nil || pf.FaceID == nil {
				continue
			}
			f, err := a.Catalog.Face(ctx, *pf.FaceID)
			if err != nil {
				continue
			}
			if mt.Similarity > best[f.ImageID] {
				best[f.ImageID], top[f.ImageID] = mt.Similarity, subjectPerson[*mt.SubjectID]
			}
		}
		if len(ms) < 500 {
			break
		}
		cursor = ms[len(ms)-1].ID
	}
	hit := 0
	for img, person := range imagePerson {
		if top[img] == person {
			hit++
		}
	}
	res.Mates = len(imagePerson)
	if res.Mates > 0 {
		res.MateTop1 = float64(hit) / float64(res.Mates)
	}
	return nil
}

// Machine names the CPU the benchmark ran on.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores, %s", runtime.NumCPU(), model)
}
