// Package scalebench measures search latency through the REST API at N enrolled faces
// (`facematch bench scale`, issue 17's end-to-end effect): the real `facematch serve` binary on a
// data directory whose collection holds N synthetic face-shaped vectors (bench/synth fitted to
// real LFW embeddings of the service's model) plus real LFW photos enrolled through the API, and
// real photo searches timed one after another from the client.
//
// Preparing a data directory (once; later runs reuse it):
//
//  1. start the service on an empty directory, create a collection and enrol the first photo
//     of People LFW persons through the API; stop it;
//  2. store N synthetic photos, one face with its vector each, through the catalog's AddImage
//     (the metadata the service would write, without photo bytes);
//  3. start the service: at start it reconciles its index with the catalog and indexes the N
//     vectors itself, so catalog and index agree by construction; stop it (it flushes).
//
// Measuring: start the service (its restart time is reported), search each person's second
// photo (k 10) Searches times in turn, and report latency percentiles and the share of searches
// whose enrolled mate came back. Compare two N: the difference is the index's share.
package scalebench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/facematch/facematch/bench/indexbench"
	"github.com/facematch/facematch/bench/synth"
	"github.com/facematch/facematch/internal/catalog"
)

// Config says what to prepare and measure.
type Config struct {
	Bin          string   // the facematch binary to serve with
	DataDir      string   // prepared once, reused by later runs with the same N and People
	ServeArgs    []string // more serve flags (e.g. --workers)
	Env          []string // more environment for the service (KEY=value), after this process's
	MemoryBudget string   // serve --memory-budget ("" its default)
	N            int      // synthetic faces
	People       int      // real LFW persons enrolled (default 100)
	Searches     int      // timed searches (default 200)
	Photos       string   // the LFW tree: persons are folders of JPEGs
	// Real are the service's model's embeddings of Photos (indexbench's LFW cache): synthetic
	// faces are fitted to them. Their model must be the collection's.
	Real         *indexbench.RealEmbeddings
	ReadyTimeout time.Duration // how long a start may take (default 2h: a 1M reconcile builds the index)
	Seed         uint64
	Log          func(format string, args ...any)
}

// Result is what `facematch bench scale --json` prints. Latencies are the client's, through
// loopback HTTP: upload, decode, detect, embed, index search, catalog and audit writes.
type Result struct {
	N             int     `json:"n"`              // synthetic faces
	Model         string  `json:"model"`          // the collection's embedding model
	Dim           int     `json:"dim"`            // its dimension
	Prepared      bool    `json:"prepared"`       // this run prepared the data directory
	BulkLoadS     float64 `json:"bulk_load_s"`    // catalog inserts of the N faces (when prepared)
	IndexBuildS   float64 `json:"index_build_s"`  // the start that indexed them (when prepared)
	RestartS      float64 `json:"restart_s"`      // start to ready, on the prepared directory
	Searches      int     `json:"searches"`       // timed
	P50ms         float64 `json:"p50_ms"`         //
	P99ms         float64 `json:"p99_ms"`         //
	MeanMs        float64 `json:"mean_ms"`        //
	MateFound     float64 `json:"mate_found"`     // share of searches whose enrolled photo was a candidate
	ServerRSSMiB  float64 `json:"server_rss_mib"` // the service's resident memory after the searches
	GenuineMean   float64 `json:"synthetic_genuine_mean"`
	EnrolledReal  int     `json:"enrolled_real"` // real photos enrolled (a few may have no usable face)
	SearchedProbe int     `json:"probes"`        // distinct probe photos
}

// state is what a prepared data directory remembers (scalebench.json in it).
type state struct {
	N          int     `json:"n"`
	People     int     `json:"people"`
	Gallery    int64   `json:"gallery"`
	Model      string  `json:"model"`
	Dim        int     `json:"dim"`
	Bootstrap  string  `json:"bootstrap_secret"` // the admin credential the bench created
	Analyst    string  `json:"analyst_secret"`
	Probes     []probe `json:"probes"`
	BulkLoadS  float64 `json:"bulk_load_s"`
	IndexBuild float64 `json:"index_build_s"`
	Genuine    float64 `json:"synthetic_genuine_mean"`
}

// probe is a search photo and the image id of its person's enrolled photo.
type probe struct {
	Path  string `json:"path"` // relative to Photos
	Mate  int64  `json:"mate_image"`
	Label string `json:"person"`
}

const stateFile = "scalebench.json"

// Run prepares cfg.DataDir unless a previous run prepared it with the same N and People, then
// measures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = withDefaults(cfg)
	st, err := readState(cfg.DataDir)
	res := &Result{N: cfg.N}
	switch {
	case err == nil && (st.N != cfg.N || st.People != cfg.People):
		return nil, fmt.Errorf("scalebench: %s was prepared with n %d and %d people, not %d and %d: use another --data-dir",
			cfg.DataDir, st.N, st.People, cfg.N, cfg.People)
	case errors.Is(err, fs.ErrNotExist):
		if st, err = prepare(ctx, cfg); err != nil {
			return nil, err
		}
		res.Prepared = true
	case err != nil:
		return nil, err
	}
	res.Model, res.Dim, res.BulkLoadS, res.IndexBuildS, res.GenuineMean = st.Model, st.Dim, st.BulkLoadS, st.IndexBuild, st.Genuine
	return res, measure(ctx, cfg, st, res)
}

func withDefaults(cfg Config) Config {
	if cfg.People == 0 {
		cfg.People = 100
	}
	if cfg.Searches == 0 {
		cfg.Searches = 200
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Hour
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	return cfg
}

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("scalebench: %s: %w", stateFile, err)
	}
	return &st, nil
}

func writeState(dir string, st *state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, stateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("scalebench: %w", err)
	}
	return nil
}

// prepare fills an empty data directory (steps 1-3 of the package doc).
func prepare(ctx context.Context, cfg Config) (*state, error) {
	if entries, _ := os.ReadDir(cfg.DataDir); len(entries) > 0 {
		return nil, fmt.Errorf("scalebench: %s is neither empty nor prepared by bench scale", cfg.DataDir)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("scalebench: %w", err)
	}
	st := &state{N: cfg.N, People: cfg.People, Bootstrap: secret()}
	persons, err := pickPersons(cfg.Photos, cfg.People)
	if err != nil {
		return nil, err
	}
	if err := enrolReal(ctx, cfg, st, persons); err != nil {
		return nil, err
	}
	if err := loadSynthetic(ctx, cfg, st); err != nil {
		return nil, err
	}
	cfg.Log("starting the service: it indexes the %d synthetic faces", cfg.N)
	srv, took, err := startServer(ctx, cfg, st.Bootstrap)
	if err != nil {
		return nil, err
	}
	// The start adds the vectors; segments' graphs are built behind it: wait until every sealed
	// segment is stored with its graph, then stop. Both count.
	waitStart := time.Now()
	if err := srv.waitPersisted(ctx, newClient(srv.url, st.Bootstrap), cfg.ReadyTimeout); err != nil {
		srv.stop()
		return nil, err
	}
	if err := srv.stop(); err != nil {
		return nil, fmt.Errorf("scalebench: stopping the service: %w", err)
	}
	st.IndexBuild = (took + time.Since(waitStart)).Seconds()
	return st, writeState(cfg.DataDir, st)
}

// pickPersons returns the first people persons (folders, sorted) with two photos or more:
// their first and second photos, relative to root.
func pickPersons(root string, people int) ([][2]string, error) {
	dirs, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scalebench: %w", err)
	}
	var out [][2]string
	for _, d := range dirs {
		if len(out) == people {
			break
		}
		if !d.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, d.Name(), "*.jpg"))
		sort.Strings(files)
		if len(files) >= 2 {
			out = append(out, [2]string{rel(root, files[0]), rel(root, files[1])})
		}
	}
	if len(out) < people {
		return nil, fmt.Errorf("scalebench: %s has %d persons with two photos, want %d", root, len(out), people)
	}
	return out, nil
}

func rel(root, path string) string {
	r, _ := filepath.Rel(root, path)
	return r
}

// enrolReal starts the service on the empty directory, creates the collection and an analyst
// credential, and enrols each person's first photo.
func enrolReal(ctx context.Context, cfg Config, st *state, persons [][2]string) error {
	srv, _, err := startServer(ctx, cfg, st.Bootstrap)
	if err != nil {
		return err
	}
	defer srv.stop()
	admin := newClient(srv.url, st.Bootstrap)
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := admin.json(ctx, "POST", "/v1/tokens", map[string]string{"name": "bench-scale-analyst", "role": "analyst"}, &tok); err != nil {
		return err
	}
	st.Analyst = tok.Secret
	var gal struct {
		ID    int64  `json:"id"`
		Model string `json:"model"`
	}
	if err := admin.json(ctx, "POST", "/v1/galleries", map[string]string{"name": "bench-scale", "kind": "collection"}, &gal); err != nil {
		return err
	}
	st.Gallery, st.Model = gal.ID, gal.Model
	analyst := newClient(srv.url, st.Analyst)
	cfg.Log("enrolling %d LFW photos through the API", len(persons))
	for _, p := range persons {
		data, err := os.ReadFile(filepath.Join(cfg.Photos, p[0]))
		if err != nil {
			return fmt.Errorf("scalebench: %w", err)
		}
		var enrolled struct {
			Image struct {
				ID int64 `json:"id"`
			} `json:"image"`
			Faces []struct {
				Model string `json:"model"` // set when the face passed the gate and was indexed
			} `json:"faces"`
		}
		if err := analyst.photo(ctx, fmt.Sprintf("/v1/galleries/%d/images", gal.ID), data, map[string]string{"site": "bench-scale"}, &enrolled); err != nil {
			return err
		}
		indexed := false
		for _, f := range enrolled.Faces {
			indexed = indexed || f.Model != ""
		}
		if !indexed {
			continue // no usable face: no mate to find
		}
		st.Probes = append(st.Probes, probe{Path: p[1], Mate: enrolled.Image.ID, Label: filepath.Dir(p[0])})
	}
	return srv.stop()
}

// loadSynthetic stores the N synthetic faces in the collection through the catalog.
func loadSynthetic(ctx context.Context, cfg Config, st *state) error {
	if cfg.Real == nil || cfg.Real.Model != st.Model {
		have := "none"
		if cfg.Real != nil {
			have = cfg.Real.Model
		}
		return fmt.Errorf("scalebench: the collection's model is %s, the real embeddings' %s", st.Model, have)
	}
	st.Dim = len(cfg.Real.Vectors[0])
	model, err := synth.Fit(cfg.Real.Vectors, cfg.Real.Labels)
	if err != nil {
		return err
	}
	stats := model.Calibrate(synth.GenuineMean(cfg.Real.Vectors, cfg.Real.Labels))
	st.Genuine = stats.GenuineMean
	cat, err := catalog.Open(ctx, filepath.Join(cfg.DataDir, "metadata.db"))
	if err != nil {
		return err
	}
	defer cat.Close()
	cfg.Log("storing %d synthetic faces (genuine mean %.3f)", cfg.N, stats.GenuineMean)
	start := time.Now()
	const batch = 1000 // two photos of 500 persons
	fill := func(from int, out []float32) {
		sizes := make([]int, (len(out)/st.Dim+1)/2)
		for i := range sizes {
			sizes[i] = 2
		}
		if 2*len(sizes) > len(out)/st.Dim {
			sizes[len(sizes)-1] = 1
		}
		// A stream per batch: persons of different batches differ.
		model.Generate(out, sizes, cfg.Seed<<32|uint64(from/batch), runtime.GOMAXPROCS(0))
	}
	progress := func(done int) {
		if done%100_000 == 0 || done == cfg.N {
			cfg.Log("stored %d/%d synthetic faces", done, cfg.N)
		}
	}
	if err := bulkLoad(ctx, cat, st.Gallery, st.Model, st.Dim, cfg.N, batch, fill, progress); err != nil {
		return err
	}
	st.BulkLoadS = time.Since(start).Seconds()
	return cat.Close()
}

// measure starts the service on the prepared directory and times the searches.
func measure(ctx context.Context, cfg Config, st *state, res *Result) error {
	if len(st.Probes) == 0 {
		return errors.New("scalebench: no enrolled photo had a usable face")
	}
	srv, took, err := startServer(ctx, cfg, st.Bootstrap)
	if err != nil {
		return err
	}
	defer srv.stop()
	res.RestartS = took.Seconds()
	analyst := newClient(srv.url, st.Analyst)
	photos := make([][]byte, len(st.Probes))
	for i, p := range st.Probes {
		if photos[i], err = os.ReadFile(filepath.Join(cfg.Photos, p.Path)); err != nil {
			return fmt.Errorf("scalebench: %w", err)
		}
	}
	fields := map[string]string{"galleries": fmt.Sprint(st.Gallery), "purpose": "bench scale", "k": "10"}
	search := func(i int) (time.Duration, bool, error) {
		var out struct {
			Faces []struct {
				Candidates []struct {
					ImageID int64 `json:"image_id"`
				} `json:"candidates"`
			} `json:"faces"`
		}
		t0 := time.Now()
		err := analyst.photo(ctx, "/v1/searches", photos[i], fields, &out)
		took := time.Since(t0)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusUnprocessableEntity {
			err = nil // no usable face in the probe: timed, and its mate not found
		}
		found := false
		for _, f := range out.Faces {
			for _, c := range f.Candidates {
				found = found || c.ImageID == st.Probes[i].Mate
			}
		}
		return took, found, err
	}
	for i := range min(5, len(photos)) { // warm-up: first sessions, caches
		if _, _, err := search(i); err != nil {
			return err
		}
	}
	cfg.Log("timing %d searches at %d synthetic faces", cfg.Searches, cfg.N)
	lat := make([]time.Duration, cfg.Searches)
	var found int
	var sum time.Duration
	for q := range cfg.Searches {
		took, ok, err := search(q % len(photos))
		if err != nil {
			return err
		}
		lat[q], sum = took, sum+took
		if ok {
			found++
		}
	}
	slices.Sort(lat)
	res.Searches, res.SearchedProbe, res.EnrolledReal = cfg.Searches, len(photos), len(st.Probes)
	res.P50ms = float64(lat[len(lat)/2]) / 1e6
	res.P99ms = float64(lat[min(len(lat)-1, len(lat)*99/100)]) / 1e6
	res.MeanMs = float64(sum) / float64(len(lat)) / 1e6
	res.MateFound = float64(found) / float64(len(lat))
	res.ServerRSSMiB = float64(processRSS(srv.cmd.Process.Pid)) / (1 << 20)
	// Steady state: no graph may have been built while the searches ran.
	if built, err := srv.indexEvents("segment graph built"); err != nil || built > 0 {
		return errors.Join(err, fmt.Errorf("scalebench: the service built %d segment graphs during the searches: not a steady state", built))
	}
	return srv.stop()
}

// processRSS is a process's resident memory in bytes (0 where /proc is unavailable).
func processRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

func secret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "bench-scale-" + hex.EncodeToString(b)
}
