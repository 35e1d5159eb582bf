// Package loadbench drives a running facematch service over loopback HTTP at several levels of
// concurrent clients, each mixing uploads of large photos and ordinary ones, searches and
// review decisions, and reports per level the status codes, throughput, latency percentiles
// and the service's peak resident memory against its memory budget (`facematch bench load`).
// Afterwards it checks that every write the service acknowledged is there and audited. It
// fails on any 5xx other than 503 with Retry-After, on a lost or unaudited write, and on a
// peak RSS beyond the bound the budget sets. bench/RESULTS.md quotes it.
package loadbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"
)

// Config says what load to apply.
type Config struct {
	URL      string        // service base URL, e.g. http://127.0.0.1:8080
	Admin    string        // an admin credential (creates the bench's credentials and galleries)
	Photos   string        // directory tree of JPEGs (LFW): uploads take fresh ones, searches reuse some
	Large    string        // directory tree of JPEGs upscaled to LargeMP megapixels for large uploads (celebs)
	LargeMP  float64       // megapixels of a large photo (default 36)
	Duration time.Duration // how long each level lasts (default 2 minutes)
	Clients  []int         // concurrent clients per level (default 8, 16, 32)
	// Shares of operations: large uploads, ordinary uploads and decisions (defaults 0.15, 0.2,
	// 0.25); the rest are searches.
	LargeShare, UploadShare, DecideShare float64
	// PID is the service's process, whose resident memory is sampled (0: not measured), and
	// Budget its --memory-budget in bytes, which bounds the growth of that memory.
	PID    int
	Budget int64
	Seed   uint64
	Log    func(format string, args ...any)
}

// OpStats are one operation's figures at one level.
type OpStats struct {
	Count  int            `json:"count"`
	Status map[string]int `json:"status"` // by HTTP status ("503" counts only those with Retry-After; "503-no-retry-after" the others)
	PerSec float64        `json:"per_s"`  // acknowledged (2xx) per second
	P50ms  float64        `json:"p50_ms"`
	P99ms  float64        `json:"p99_ms"`
	MaxMs  float64        `json:"max_ms"`
}

// Level is one level's figures.
type Level struct {
	Clients    int                 `json:"clients"`
	Seconds    float64             `json:"seconds"`
	Ops        map[string]*OpStats `json:"ops"`
	PeakRSS    int64               `json:"peak_rss_bytes"` // sampled every 100 ms
	AdmitPeak  int64               `json:"admission_peak_bytes"`
	AdmitRefus int64               `json:"admission_refused"`
}

// Result is what `facematch bench load --json` prints.
type Result struct {
	Levels      []*Level `json:"levels"`
	Budget      int64    `json:"memory_budget_bytes"`
	BaseRSS     int64    `json:"rss_before_load_bytes"`
	RSSBound    int64    `json:"rss_bound_bytes"` // BaseRSS + 1.25×Budget
	PeakRSS     int64    `json:"peak_rss_bytes"`
	LargeMP     float64  `json:"large_photo_megapixels"`
	Acked       int      `json:"acknowledged_writes"`
	Verified    int      `json:"verified_writes"`
	Audited     int      `json:"audited_writes"`
	Failures    []string `json:"failures,omitempty"` // the first few
	failuresAll int
}

type client struct {
	base, token string
	http        *http.Client
}

// answer is an HTTP answer: status, Retry-After and body.
type answer struct {
	status     int
	retryAfter string
	body       []byte
}

func (c *client) do(ctx context.Context, method, path string, body []byte, ct string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), data}, err
}

// json sends in (nil: no body) and decodes a 2xx answer into out.
func (c *client) json(ctx context.Context, method, path string, in, out any) error {
	var b []byte
	if in != nil {
		b, _ = json.Marshal(in)
	}
	a, err := c.do(ctx, method, path, b, "application/json")
	if err != nil {
		return err
	}
	if a.status >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, a.status, bytes.TrimSpace(a.body))
	}
	if out != nil {
		return json.Unmarshal(a.body, out)
	}
	return nil
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

// withComment makes a JPEG's bytes unique (a comment segment after SOI) without changing its
// pixels, so that every large upload is decoded, not found as a duplicate.
func withComment(jpg []byte, text string) []byte {
	out := make([]byte, 0, len(jpg)+len(text)+4)
	out = append(out, jpg[:2]...)
	out = append(out, 0xff, 0xfe, byte((len(text)+2)>>8), byte(len(text)+2))
	out = append(out, text...)
	return append(out, jpg[2:]...)
}

func listJPEGs(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".jpg") {
			files = append(files, p)
		}
		return err
	})
	sort.Strings(files)
	return files, err
}

// largePhotos upscales the first n photos of root to about mp megapixels.
func largePhotos(root string, mp float64, n int) ([][]byte, error) {
	files, err := listJPEGs(root)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range files {
		if len(out) == n {
			break
		}
		img, err := imaging.Open(f)
		if err != nil {
			continue
		}
		b := img.Bounds()
		k := math.Sqrt(mp * 1e6 / float64(b.Dx()*b.Dy()))
		big := imaging.Resize(img, int(float64(b.Dx())*k), int(float64(b.Dy())*k), imaging.Linear)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 85}); err != nil {
			return nil, err
		}
		out = append(out, buf.Bytes())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadbench: no photo in %s", root)
	}
	return out, nil
}

// rss reads a process's resident set size from /proc (0 where there is none).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// acked is a write the service acknowledged, to be found again afterwards.
type acked struct {
	kind   string // image, search, decision
	id     int64  // image, search or match ID
	actor  string // the deciding reviewer
	action string // the audit action expected
}

// bench is one run's state.
type bench struct {
	cfg       Config
	admin     *client
	analyst   *client
	reviewers []*client
	revNames  []string
	auditor   *client
	gallery   int64
	probes    []string
	fresh     []string
	large     [][]byte
	mu        sync.Mutex
	next      int
	nlarge    int
	matches   []int64 // pending matches from searches, for decisions
	acks      []acked
	res       *Result
}

func (b *bench) fail(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.res.failuresAll++
	if len(b.res.Failures) < 20 {
		b.res.Failures = append(b.res.Failures, fmt.Sprintf(format, args...))
	}
}

// Run prepares credentials, a collection and photos, runs each level in turn, then checks the
// acknowledged writes and their audit entries.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Duration == 0 {
		cfg.Duration = 2 * time.Minute
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []int{8, 16, 32}
	}
	if cfg.LargeMP == 0 {
		cfg.LargeMP = 36
	}
	if cfg.LargeShare == 0 && cfg.UploadShare == 0 && cfg.DecideShare == 0 {
		cfg.LargeShare, cfg.UploadShare, cfg.DecideShare = 0.15, 0.2, 0.25
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	files, err := listJPEGs(cfg.Photos)
	if err != nil {
		return nil, err
	}
	if len(files) < 200 {
		return nil, fmt.Errorf("loadbench: %s holds %d photos, want at least 200", cfg.Photos, len(files))
	}
	rand.New(rand.NewPCG(cfg.Seed, 1)).Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	cfg.Log("upscaling 4 photos of %s to %.0f megapixels", cfg.Large, cfg.LargeMP)
	large, err := largePhotos(cfg.Large, cfg.LargeMP, 4)
	if err != nil {
		return nil, err
	}
	maxClients := 0
	for _, c := range cfg.Clients {
		maxClients = max(maxClients, c)
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: maxClients * 2}}
	b := &bench{cfg: cfg, admin: &client{cfg.URL, cfg.Admin, hc}, large: large,
		res: &Result{Budget: cfg.Budget, LargeMP: cfg.LargeMP}}
	stamp := time.Now().UTC().Format("20060102T150405")
	token := func(name, role string) (*client, error) {
		var tok struct {
			Secret string `json:"secret"`
		}
		err := b.admin.json(ctx, "POST", "/v1/tokens", map[string]string{"name": name + "-" + stamp, "role": role}, &tok)
		return &client{cfg.URL, tok.Secret, hc}, err
	}
	if b.analyst, err = token("loadbench-analyst", "analyst"); err != nil {
		return nil, err
	}
	if b.auditor, err = token("loadbench-auditor", "auditor"); err != nil {
		return nil, err
	}
	for i := range 2 {
		r, err := token(fmt.Sprintf("loadbench-reviewer%d", i+1), "reviewer")
		if err != nil {
			return nil, err
		}
		b.reviewers, b.revNames = append(b.reviewers, r), append(b.revNames, fmt.Sprintf("loadbench-reviewer%d-%s", i+1, stamp))
	}
	var gal struct {
		ID int64 `json:"id"`
	}
	if err := b.admin.json(ctx, "POST", "/v1/galleries", map[string]string{"name": "loadbench-" + stamp, "kind": "collection"}, &gal); err != nil {
		return nil, err
	}
	b.gallery = gal.ID
	seed := min(200, len(files)/4)
	cfg.Log("seeding the collection with %d photos", seed)
	for _, f := range files[:seed] {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		body, ct := multipartPhoto(data, map[string]string{"site": "loadbench"})
		a, err := b.analyst.do(ctx, "POST", fmt.Sprintf("/v1/galleries/%d/images", gal.ID), body, ct)
		if err != nil || (a.status >= 300 && a.status != 422) {
			return nil, fmt.Errorf("loadbench: seeding: %v %d %s", err, a.status, a.body)
		}
	}
	b.probes, b.fresh = files[:seed], files[seed:]
	if cfg.PID > 0 {
		b.res.BaseRSS = rss(cfg.PID)
		// The service sets Go's heap limit to its memory at rest plus the budget; the quarter on
		// top is the collector's pacing and ONNX Runtime's working memory.
		b.res.RSSBound = b.res.BaseRSS + cfg.Budget + cfg.Budget/4
	}
	for _, n := range cfg.Clients {
		if ctx.Err() != nil {
			return b.res, ctx.Err()
		}
		lv := b.level(ctx, n)
		b.res.Levels = append(b.res.Levels, lv)
		b.res.PeakRSS = max(b.res.PeakRSS, lv.PeakRSS)
	}
	b.verify(ctx)
	if b.res.RSSBound > 0 && b.res.PeakRSS > b.res.RSSBound {
		b.fail("peak RSS %d MB exceeds the bound %d MB (RSS before load + 1.25 × the memory budget)", b.res.PeakRSS>>20, b.res.RSSBound>>20)
	}
	if b.res.failuresAll > 0 {
		return b.res, fmt.Errorf("loadbench: %d failures: %s", b.res.failuresAll, strings.Join(b.res.Failures, "; "))
	}
	return b.res, nil
}

// level runs n clients for the configured duration.
func (b *bench) level(ctx context.Context, n int) *Level {
	cfg := b.cfg
	cfg.Log("level: %d clients for %s", n, cfg.Duration)
	lv := &Level{Clients: n, Ops: map[string]*OpStats{}}
	lat := map[string][]time.Duration{}
	var mu sync.Mutex
	record := func(op string, d time.Duration, a answer, err error) {
		mu.Lock()
		defer mu.Unlock()
		st := lv.Ops[op]
		if st == nil {
			st = &OpStats{Status: map[string]int{}}
			lv.Ops[op] = st
		}
		st.Count++
		key := strconv.Itoa(a.status)
		switch {
		case err != nil:
			key = "transport-error"
			b.fail("%s: %v", op, err)
		case a.status == 503 && a.retryAfter == "":
			key = "503-no-retry-after"
			b.fail("%s: 503 without Retry-After: %s", op, bytes.TrimSpace(a.body))
		case a.status >= 500 && a.status != 503:
			b.fail("%s: %d %s", op, a.status, bytes.TrimSpace(a.body))
		}
		if err == nil && a.status < 300 {
			lat[op] = append(lat[op], d)
		}
		st.Status[key]++
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() { // owned by this level: stopped below
		defer close(rssDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if cfg.PID > 0 {
				lv.PeakRSS = max(lv.PeakRSS, rss(cfg.PID))
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(n*1000+w)))
			for lctx.Err() == nil {
				op, a, took, err := b.one(context.WithoutCancel(lctx), r)
				record(op, took, a, err)
				if a.status == 503 {
					// A well-behaved client honours Retry-After, capped so the level ends on time.
					secs, _ := strconv.Atoi(a.retryAfter)
					select {
					case <-time.After(min(time.Duration(secs)*time.Second, 2*time.Second)):
					case <-lctx.Done():
					}
				}
			}
		})
	}
	wg.Wait()
	lv.Seconds = time.Since(start).Seconds()
	close(stopRSS)
	<-rssDone
	for op, st := range lv.Ops {
		ds := lat[op]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		if len(ds) > 0 {
			st.PerSec = float64(len(ds)) / lv.Seconds
			st.P50ms, st.P99ms, st.MaxMs = ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)]), ms(ds[len(ds)-1])
		}
		cfg.Log("  %s: %d, %v, %.1f/s acknowledged, p50 %.0f ms, p99 %.0f ms", op, st.Count, st.Status, st.PerSec, st.P50ms, st.P99ms)
	}
	lv.AdmitPeak, lv.AdmitRefus = b.admissionMetrics(ctx)
	cfg.Log("  peak RSS %d MB (budget %d MB), admission peak %d MB, refused %d", lv.PeakRSS>>20, cfg.Budget>>20, lv.AdmitPeak>>20, lv.AdmitRefus)
	return lv
}

// one runs one operation chosen at random and records what it acknowledged.
func (b *bench) one(ctx context.Context, r *rand.Rand) (op string, a answer, took time.Duration, err error) {
	cfg := b.cfg
	x := r.Float64()
	uploadPath := fmt.Sprintf("/v1/galleries/%d/images", b.gallery)
	switch {
	case x < cfg.LargeShare:
		b.mu.Lock()
		b.nlarge++
		data := withComment(b.large[b.nlarge%len(b.large)], fmt.Sprintf("loadbench %d", b.nlarge))
		b.mu.Unlock()
		body, ct := multipartPhoto(data, map[string]string{"site": "loadbench"})
		return b.upload(ctx, "upload-large", uploadPath, body, ct)
	case x < cfg.LargeShare+cfg.UploadShare:
		b.mu.Lock()
		if b.next >= len(b.fresh) {
			b.next = 0 // all used: duplicates from here on, still acknowledged writes
		}
		path := b.fresh[b.next]
		b.next++
		b.mu.Unlock()
		data, err := os.ReadFile(path)
		if err != nil {
			return "upload", answer{}, 0, err
		}
		body, ct := multipartPhoto(data, map[string]string{"site": "loadbench"})
		return b.upload(ctx, "upload", uploadPath, body, ct)
	case x < cfg.LargeShare+cfg.UploadShare+cfg.DecideShare:
		b.mu.Lock()
		if len(b.matches) == 0 {
			b.mu.Unlock()
			break // nothing to decide yet: search instead
		}
		k := r.IntN(len(b.matches))
		id := b.matches[k]
		b.mu.Unlock()
		rv := r.IntN(len(b.reviewers))
		t0 := time.Now()
		body, _ := json.Marshal(map[string]string{"decision": "no_candidate", "note": "load benchmark"})
		a, err := b.reviewers[rv].do(ctx, "POST", fmt.Sprintf("/v1/matches/%d/decisions", id), body, "application/json")
		took := time.Since(t0)
		if err == nil && a.status == 200 {
			b.mu.Lock()
			b.acks = append(b.acks, acked{"decision", id, b.revNames[rv], "match.decide"})
			b.mu.Unlock()
		}
		return "decide", a, took, err
	}
	data, err := os.ReadFile(b.probes[r.IntN(len(b.probes))])
	if err != nil {
		return "search", answer{}, 0, err
	}
	body, ct := multipartPhoto(data, map[string]string{"galleries": fmt.Sprint(b.gallery), "purpose": "load benchmark", "k": "3"})
	t0 := time.Now()
	a, err = b.analyst.do(ctx, "POST", "/v1/searches", body, ct)
	took = time.Since(t0)
	if err == nil && a.status == 201 {
		var res struct {
			Search struct {
				ID int64 `json:"id"`
			} `json:"search"`
			Faces []struct {
				Candidates []struct {
					MatchID int64 `json:"match_id"`
				} `json:"candidates"`
			} `json:"faces"`
		}
		if json.Unmarshal(a.body, &res) == nil {
			b.mu.Lock()
			b.acks = append(b.acks, acked{"search", res.Search.ID, "", "search.create"})
			for _, f := range res.Faces {
				for _, c := range f.Candidates {
					b.matches = append(b.matches, c.MatchID)
				}
			}
			b.mu.Unlock()
		}
	}
	return "search", a, took, err
}

func (b *bench) upload(ctx context.Context, op, path string, body []byte, ct string) (string, answer, time.Duration, error) {
	t0 := time.Now()
	a, err := b.analyst.do(ctx, "POST", path, body, ct)
	took := time.Since(t0)
	if err == nil && (a.status == 201 || a.status == 200) {
		var e struct {
			Image struct {
				ID int64 `json:"id"`
			} `json:"image"`
		}
		if json.Unmarshal(a.body, &e) == nil {
			b.mu.Lock()
			b.acks = append(b.acks, acked{"image", e.Image.ID, "", "image.upload"})
			b.mu.Unlock()
		}
	}
	return op, a, took, err
}

// admissionMetrics reads the service's admission peak and refusals from /metrics.
func (b *bench) admissionMetrics(ctx context.Context) (peak, refused int64) {
	a, err := b.admin.do(ctx, "GET", "/metrics", nil, "")
	if err != nil || a.status != 200 {
		return 0, 0
	}
	for _, line := range strings.Split(string(a.body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "facematch_admission_peak_bytes":
			peak = int64(v)
		case "facematch_admission_refused_total":
			refused = int64(v)
		}
	}
	return peak, refused
}

// verify reads back every acknowledged write and finds its audit entry.
func (b *bench) verify(ctx context.Context) {
	b.res.Acked = len(b.acks)
	b.cfg.Log("verifying %d acknowledged writes and their audit entries", len(b.acks))
	type key struct {
		action, target, actor string
	}
	audit := map[key]bool{}
	for cursor := ""; ; {
		var page struct {
			Items []struct {
				Actor  string `json:"actor"`
				Action string `json:"action"`
				Target string `json:"target"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := b.auditor.json(ctx, "GET", "/v1/audit?limit=1000&cursor="+cursor, nil, &page); err != nil {
			b.fail("reading the audit log: %v", err)
			return
		}
		for _, e := range page.Items {
			audit[key{e.Action, e.Target, e.Actor}] = true
			audit[key{e.Action, e.Target, ""}] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	for _, w := range b.acks {
		var target string
		var err error
		switch w.kind {
		case "image":
			target = fmt.Sprintf("image:%d", w.id)
			err = b.admin.json(ctx, "GET", fmt.Sprintf("/v1/images/%d/faces", w.id), nil, nil)
		case "search":
			target = fmt.Sprintf("search:%d", w.id)
			err = b.analyst.json(ctx, "GET", fmt.Sprintf("/v1/searches/%d", w.id), nil, nil)
		case "decision":
			target = fmt.Sprintf("match:%d", w.id)
			var m struct {
				Decisions []struct {
					Reviewer string `json:"reviewer"`
				} `json:"decisions"`
			}
			if err = b.admin.json(ctx, "GET", fmt.Sprintf("/v1/matches/%d", w.id), nil, &m); err == nil {
				found := false
				for _, d := range m.Decisions {
					found = found || d.Reviewer == w.actor
				}
				if !found {
					err = fmt.Errorf("match %d has no decision by %s", w.id, w.actor)
				}
			}
		}
		if err != nil {
			b.fail("acknowledged %s %d is missing: %v", w.kind, w.id, err)
			continue
		}
		b.res.Verified++
		if !audit[key{w.action, target, w.actor}] {
			b.fail("acknowledged %s %d has no %s audit entry", w.kind, w.id, w.action)
			continue
		}
		b.res.Audited++
	}
	b.cfg.Log("%d of %d acknowledged writes found, %d audited", b.res.Verified, b.res.Acked, b.res.Audited)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
