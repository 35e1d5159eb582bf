// Package loadbench drives a running facematch service over loopback HTTP with concurrent
// searches and uploads for a fixed time, and reports throughput and latency percentiles per
// operation (`facematch bench load`). It is a benchmark, not a test: bench/RESULTS.md quotes it.
package loadbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config says what load to apply.
type Config struct {
	URL      string        // service base URL, e.g. http://127.0.0.1:8080
	Admin    string        // an admin credential (creates the bench's credentials and galleries)
	Photos   string        // directory tree of JPEGs (LFW): uploads take fresh ones, searches reuse some
	Duration time.Duration // how long to apply load (default 1 minute)
	Workers  int           // concurrent clients (default 4)
	// UploadShare is the fraction of operations that are uploads (default 0.3); the rest are
	// searches.
	UploadShare float64
	Seed        uint64
	Log         func(format string, args ...any)
}

// OpStats are one operation's figures.
type OpStats struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	PerSec float64 `json:"per_s"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Result is what `facematch bench load --json` prints.
type Result struct {
	Seconds   float64             `json:"seconds"`
	Workers   int                 `json:"workers"`
	Gallery   int                 `json:"gallery_faces_at_start"`
	Ops       map[string]*OpStats `json:"ops"`
	ErrorList []string            `json:"errors,omitempty"` // the first few
}

type client struct {
	base, token string
	http        *http.Client
}

func (c *client) do(ctx context.Context, method, path string, body io.Reader, ct string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

func (c *client) json(ctx context.Context, method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	_, err := c.do(ctx, method, path, bytes.NewReader(b), "application/json", out)
	return err
}

func multipartPhoto(data []byte, fields map[string]string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("image", "photo.jpg")
	fw.Write(data)
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// Run seeds a collection with photos, then runs the mixed load until cfg.Duration has passed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Duration == 0 {
		cfg.Duration = time.Minute
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.UploadShare == 0 {
		cfg.UploadShare = 0.3
	}
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var files []string
	err := filepath.WalkDir(cfg.Photos, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".jpg") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(files) < 200 {
		return nil, fmt.Errorf("loadbench: %s holds %d photos, want at least 200", cfg.Photos, len(files))
	}
	sort.Strings(files)
	rand.New(rand.NewPCG(cfg.Seed, 1)).Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers * 2}}
	admin := &client{cfg.URL, cfg.Admin, hc}
	stamp := time.Now().UTC().Format("20060102T150405")
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := admin.json(ctx, "POST", "/v1/tokens", map[string]string{"name": "loadbench-" + stamp, "role": "analyst"}, &tok); err != nil {
		return nil, err
	}
	analyst := &client{cfg.URL, tok.Secret, hc}
	var gal struct {
		ID int64 `json:"id"`
	}
	if err := admin.json(ctx, "POST", "/v1/galleries", map[string]string{"name": "loadbench-" + stamp, "kind": "collection"}, &gal); err != nil {
		return nil, err
	}
	// Seed: a first batch of photos so that searches have something to find.
	seed := min(200, len(files)/4)
	logf("seeding the collection with %d photos", seed)
	for _, f := range files[:seed] {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		body, ct := multipartPhoto(data, map[string]string{"site": "loadbench"})
		if code, err := analyst.do(ctx, "POST", fmt.Sprintf("/v1/galleries/%d/images", gal.ID), bytes.NewReader(body), ct, nil); err != nil && code != 422 {
			return nil, err
		}
	}
	probes := files[:seed]
	fresh := files[seed:]

	res := &Result{Workers: cfg.Workers, Gallery: seed, Ops: map[string]*OpStats{}}
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	next := 0
	record := func(op string, d time.Duration, err error, code int) {
		mu.Lock()
		defer mu.Unlock()
		st := res.Ops[op]
		if st == nil {
			st = &OpStats{}
			res.Ops[op] = st
		}
		st.Count++
		// A photo in which the detector finds no face is a correct 422, not a failure.
		if err != nil && !(op == "upload" && code == 422) && !(op == "search" && code == 422) {
			st.Errors++
			if len(res.ErrorList) < 10 {
				res.ErrorList = append(res.ErrorList, err.Error())
			}
		}
		lat[op] = append(lat[op], d)
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(w)+10))
			for lctx.Err() == nil {
				upload := r.Float64() < cfg.UploadShare
				var path string
				fields := map[string]string{}
				op := "search"
				if upload {
					mu.Lock()
					if next >= len(fresh) {
						mu.Unlock()
						upload = false
					} else {
						path = fresh[next]
						next++
						mu.Unlock()
						op = "upload"
					}
				}
				if !upload {
					path = probes[r.IntN(len(probes))]
					fields["galleries"] = fmt.Sprint(gal.ID)
					fields["purpose"] = "load benchmark"
				}
				data, err := os.ReadFile(path)
				if err != nil {
					record(op, 0, err, 0)
					continue
				}
				body, ct := multipartPhoto(data, fields)
				url := "/v1/searches"
				if op == "upload" {
					url = fmt.Sprintf("/v1/galleries/%d/images", gal.ID)
				}
				t0 := time.Now()
				// The request is not cut off at the deadline: a started operation completes.
				code, err := analyst.do(context.WithoutCancel(lctx), "POST", url, bytes.NewReader(body), ct, nil)
				record(op, time.Since(t0), err, code)
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	for op, ds := range lat {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		st := res.Ops[op]
		st.PerSec = float64(st.Count) / res.Seconds
		st.P50ms = ms(ds[len(ds)/2])
		st.P99ms = ms(ds[min(len(ds)-1, len(ds)*99/100)])
		st.MaxMs = ms(ds[len(ds)-1])
	}
	for op, st := range res.Ops {
		logf("%s: %d in %.0f s (%.1f/s), p50 %.0f ms, p99 %.0f ms, %d errors", op, st.Count, res.Seconds, st.PerSec, st.P50ms, st.P99ms, st.Errors)
	}
	total := 0
	for _, st := range res.Ops {
		total += st.Errors
	}
	if total > 0 {
		return res, errors.New("loadbench: some operations failed: " + strings.Join(res.ErrorList, "; "))
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
