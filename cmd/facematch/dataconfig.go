package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/engineblob"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/source"
	"github.com/facematch/facematch/models"
)

// dataConfig says where a facematch data directory and its blobs are: what serve and ingest
// share.
type dataConfig struct {
	DataDir string // metadata.db, wal/ and (with the local default) blobs/
	Blobs   string // "" (local directory) or s3://bucket/prefix
	S3      s3.Config
	Models  []string // recognizers run besides --recognizer (for galleries on them, and reprocessing)
	// IngestRoot, when set, is the only local directory tree jobs may read (the service sets
	// it: an API client must not make the service read arbitrary files). "" allows any path.
	IngestRoot string
	// AnyLocalPath lets jobs read any local path (the ingest command: its user chose it).
	AnyLocalPath bool
	Workers      int
	// CredentialLifetime is how long new and rotated credentials work.
	CredentialLifetime time.Duration
	envErr             error // a malformed admission environment variable, reported by Validate
	// Admission: the memory budget of photos being analysed at once, how long a request waits
	// for it, and the decode deadline (engine.ServiceConfig explains each).
	MemoryBudget  int64
	AdmissionWait time.Duration
	DecodeTimeout time.Duration
}

func (c *dataConfig) bind(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "FACEMATCH_DATA_DIR", "var"), "directory for the metadata database, the index WAL and local blobs (env FACEMATCH_DATA_DIR)")
	fs.StringVar(&c.Blobs, "blobs", getenv("FACEMATCH_BLOBS"), "blob store: empty for <data-dir>/blobs, or s3://bucket/prefix (env FACEMATCH_BLOBS)")
	fs.StringVar(&c.S3.Endpoint, "s3-endpoint", getenv("FACEMATCH_S3_ENDPOINT"), "S3 host:port for s3:// blobs and sources (env FACEMATCH_S3_ENDPOINT); keys from FACEMATCH_S3_ACCESS_KEY and FACEMATCH_S3_SECRET_KEY")
	c.S3.Secure = getenv("FACEMATCH_S3_INSECURE") != "1"
	fs.BoolFunc("s3-insecure", "talk plain HTTP to S3 (env FACEMATCH_S3_INSECURE=1)", func(string) error { c.S3.Secure = false; return nil })
	fs.Func("models", "more recognizers to run besides --recognizer, comma-separated (for galleries on them and reprocess jobs)", func(v string) error {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				c.Models = append(c.Models, n)
			}
		}
		return nil
	})
	fs.IntVar(&c.Workers, "workers", 0, "photos a job analyses at once (0: one more than the CPUs)")
	lifetime := engine.DefaultCredentialLifetime
	if v := getenv("FACEMATCH_CREDENTIAL_LIFETIME"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			lifetime = d
		} else {
			lifetime = -1 // Validate says what is wrong
		}
	}
	fs.DurationVar(&c.CredentialLifetime, "credential-lifetime", lifetime, "how long a new or rotated credential works (env FACEMATCH_CREDENTIAL_LIFETIME)")
	c.S3.AccessKey, c.S3.SecretKey = getenv("FACEMATCH_S3_ACCESS_KEY"), getenv("FACEMATCH_S3_SECRET_KEY")
	c.MemoryBudget, c.AdmissionWait, c.DecodeTimeout = engine.DefaultMemoryBudget, engine.DefaultAdmissionWait, engine.DefaultDecodeTimeout
	c.envErr = errors.Join(
		envBytes(getenv, "FACEMATCH_MEMORY_BUDGET", &c.MemoryBudget),
		envDuration(getenv, "FACEMATCH_ADMISSION_WAIT", &c.AdmissionWait),
		envDuration(getenv, "FACEMATCH_DECODE_TIMEOUT", &c.DecodeTimeout))
	fs.Func("memory-budget", "memory that photos being decoded and analysed may hold at once, uploads, searches and jobs together, e.g. 2GiB or 512MiB (env FACEMATCH_MEMORY_BUDGET; default 2GiB)",
		func(v string) (err error) { c.MemoryBudget, err = parseBytes(v); return err })
	fs.DurationVar(&c.AdmissionWait, "admission-wait", c.AdmissionWait, "how long an upload or search waits for memory budget before it is answered 503 with Retry-After (env FACEMATCH_ADMISSION_WAIT)")
	fs.DurationVar(&c.DecodeTimeout, "decode-timeout", c.DecodeTimeout, "how long a request waits for one photo's decode before it is answered 503 (env FACEMATCH_DECODE_TIMEOUT)")
}

// minMemoryBudget is the smallest budget accepted: below it a few ordinary photos could not
// be analysed at once (each weighs at least 32 MiB).
const minMemoryBudget = 256 << 20

// parseBytes reads a size in bytes, with an optional KiB, MiB or GiB suffix (KB, MB and GB
// are read as the same powers of two).
func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size such as 2GiB, 512MiB or a number of bytes, got %q", v)
	}
	return n * mult, nil
}

func envBytes(getenv func(string) string, key string, dst *int64) error {
	if v := getenv(key); v != "" {
		n, err := parseBytes(v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		*dst = n
	}
	return nil
}

func envDuration(getenv func(string) string, key string, dst *time.Duration) error {
	if v := getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: want a duration such as 3s, got %q", key, v)
		}
		*dst = d
	}
	return nil
}

func (c dataConfig) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.Blobs != "" && !strings.HasPrefix(c.Blobs, "s3://") {
		errs = append(errs, fmt.Errorf("--blobs must be empty (a local directory under --data-dir) or s3://bucket/prefix, got %q", c.Blobs))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("--workers must be >= 0, got %d", c.Workers))
	}
	if c.CredentialLifetime < time.Hour {
		errs = append(errs, fmt.Errorf("--credential-lifetime (FACEMATCH_CREDENTIAL_LIFETIME) must be a duration of at least 1h, got %v", c.CredentialLifetime))
	}
	errs = append(errs, c.envErr)
	if c.MemoryBudget < minMemoryBudget {
		errs = append(errs, fmt.Errorf("--memory-budget must be at least 256MiB, got %d bytes", c.MemoryBudget))
	}
	if c.AdmissionWait <= 0 || c.AdmissionWait > time.Minute {
		errs = append(errs, fmt.Errorf("--admission-wait must be in (0, 1m], got %s", c.AdmissionWait))
	}
	if c.DecodeTimeout < time.Second {
		errs = append(errs, fmt.Errorf("--decode-timeout must be at least 1s, got %s", c.DecodeTimeout))
	}
	return errors.Join(errs...)
}

// stack is an open data directory: models, blob store, catalog, one index per recognizer,
// the service over them and the index compactor. Close stops and closes them in order.
type stack struct {
	svc     *engine.Service
	cat     *catalog.DB
	blobs   blob.Store
	indexes map[string]*index.Index // by recognizer name
	models  *builtModels
	closers []func() error
}

func (st *stack) Close() error {
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		errs = append(errs, st.closers[i]())
	}
	return errors.Join(errs...)
}

// The adapters the composition hands the engine, asserted where they meet.
var (
	_ engine.VectorIndex = (*index.Index)(nil)
	_ engine.Detector    = (*models.Detector)(nil)
	_ engine.Embedder    = models.FaceEmbedder(nil)
)

// openCommandStack opens the data directory for a command an operator runs on it (ingest,
// sweep, admin recover, ...): warnings and errors go to stderr as JSON.
func (m *Main) openCommandStack(ctx context.Context, mc Config, dc dataConfig) (*stack, error) {
	return openStack(ctx, mc, dc, 2, slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// openStack opens the data directory dc with the models of mc. It takes the directory's
// lock, finishes interrupted purges and reconciles the indexes with the catalog.
func openStack(ctx context.Context, mc Config, dc dataConfig, reviewers int, log *slog.Logger) (_ *stack, err error) {
	st := &stack{indexes: map[string]*index.Index{}}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	unlock, err := lockDataDir(dc.DataDir)
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() error { unlock(); return nil })
	if st.models, err = mc.buildModels(dc.Models); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, st.models.Close)

	var store blob.Store
	if dc.Blobs == "" {
		ls, err := local.Open(filepath.Join(dc.DataDir, "blobs"))
		if err != nil {
			return nil, err
		}
		store = ls
	} else {
		u, err := url.Parse(dc.Blobs)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--blobs: want s3://bucket/prefix, got %q", dc.Blobs)
		}
		cfg := dc.S3
		cfg.Bucket, cfg.Prefix = u.Host, strings.Trim(u.Path, "/")
		ss, err := s3.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := ss.EnsureBucket(ctx, false); err != nil {
			return nil, err
		}
		store = ss
	}
	if st.cat, err = catalog.Open(ctx, filepath.Join(dc.DataDir, "metadata.db")); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, st.cat.Close)
	indexes := map[string]engine.VectorIndex{}
	names := make([]string, 0, len(st.models.pipelines))
	for name := range st.models.pipelines {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := st.models.pipelines[name]
		// The index keeps its objects under "index/<name>/" and sweeps its own orphans; the
		// service's blob sweeper lists only engine.SweptPrefixes, never this one.
		ix, err := index.Open(ctx, index.Config{Dir: filepath.Join(dc.DataDir, "wal", name), Store: store,
			Prefix: "index/" + name, Model: p.Embedder.Identity(), Dim: p.Embedder.Dim(), Graph: index.HNSWGraph(graph.Config{}), Logger: log})
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() error {
			// Flush first: a clean stop leaves the WAL empty and the restart fast.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			return errors.Join(ix.Flush(fctx), ix.Close())
		})
		st.indexes[name] = ix
		indexes[p.Embedder.Identity()] = ix
	}

	// Deleted vectors leave object storage when the index compacts: a compactor goroutine,
	// owned here and stopped before the indexes close, compacts shortly after deletions
	// (debounced, so a burst of deletions costs one rewrite).
	purged := make(chan struct{}, 1)
	stopCompactor := goOwned(ctx, func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-purged:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			for _, name := range names {
				if err := st.indexes[name].Compact(ctx); err != nil && ctx.Err() == nil {
					log.Warn("index compaction after deletions failed; the next deletion retries", "model", name, "err", err)
				}
			}
		}
	})
	st.closers = append(st.closers, func() error { stopCompactor(); return nil })

	opener := &sourceOpener{s3: source.S3Config{Endpoint: dc.S3.Endpoint, AccessKey: dc.S3.AccessKey, SecretKey: dc.S3.SecretKey,
		Insecure: !dc.S3.Secure, Region: dc.S3.Region}, blobs: store, root: dc.IngestRoot, anyPath: dc.AnyLocalPath, tmpDir: filepath.Join(dc.DataDir, "tmp"),
		dataDir: dc.DataDir, ownBlobs: dc.Blobs}
	st.blobs = store
	st.svc, err = engine.NewService(engine.ServiceConfig{Catalog: st.cat, Blobs: engineblob.Store{Blobs: store}, Pipelines: st.models.pipelines,
		DefaultModel: mc.Recognizer, Indexes: indexes, Reviewers: reviewers, Logger: log, Sources: opener, JobWorkers: dc.Workers,
		CredentialLifetime: dc.CredentialLifetime,
		MemoryBudget:       dc.MemoryBudget, AdmissionWait: dc.AdmissionWait, DecodeTimeout: dc.DecodeTimeout,
		Meta: func(r io.Reader, format string) (engine.MetaLookup, error) { return source.ReadMeta(r, format) },
		Purged: func() {
			select {
			case purged <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		return nil, err
	}
	if err := st.svc.FinishPurges(ctx); err != nil {
		return nil, err
	}
	if err := st.svc.Reconcile(ctx, func(model string) map[uint64]bool {
		have := map[uint64]bool{}
		indexes[model].(*index.Index).ForEach(func(id, _ uint64, _ []float32) { have[id] = true })
		return have
	}); err != nil {
		return nil, err
	}
	limitHeap(dc.MemoryBudget, log)
	return st, nil
}

// limitHeap sets the Go heap's soft limit to what the process holds now, at rest (models,
// index, catalog), plus the photo budget. Admission keeps the photos alive at once within the
// budget; the limit makes the collector give their memory back before the heap doubles (Go's
// default pacing), so peak RSS stays near rest + budget instead of rest + 2 × budget, at the
// cost of more collection under load. ONNX Runtime's own memory is outside the Go heap and
// does not grow with load. GOMEMLIMIT, when set, wins.
func limitHeap(budget int64, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := int64(ms.Sys-ms.HeapReleased) + budget
	debug.SetMemoryLimit(limit)
	log.Info("Go heap limit set", "limit_bytes", limit, "photo_budget_bytes", budget)
}

// sourceOpener opens ingest sources: S3 prefixes, local directories and archives (within root
// when set), and archives uploaded through the API ("upload:KEY" in the blob store).
type sourceOpener struct {
	s3      source.S3Config
	blobs   blob.Store
	root    string
	anyPath bool
	tmpDir  string
	// dataDir and ownBlobs (s3://bucket/prefix, or "" for blobs under dataDir) are the
	// service's own data: a job must never read it back as a source (it holds other galleries'
	// photos, the index and the catalog).
	dataDir  string
	ownBlobs string
}

func (o *sourceOpener) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	if err := os.MkdirAll(o.tmpDir, 0o700); err != nil {
		return nil, err
	}
	if key, ok := strings.CutPrefix(spec, "upload:"); ok { // an archive uploaded with the job
		return source.Archive(ctx, func(ctx context.Context) (io.ReadCloser, error) { return o.blobs.Get(ctx, key) }, o.tmpDir)
	}
	if err := o.refuseOwnData(spec); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(spec, "s3://") && !o.anyPath {
		if o.root == "" {
			return nil, errors.New("this service reads no local paths: start it with --ingest-root, or upload an archive")
		}
		abs, err := resolve(spec)
		if err != nil {
			return nil, err
		}
		root, err := resolve(o.root)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("%s is outside the ingest root %s (--ingest-root)", spec, o.root)
		}
		spec = abs
	}
	return source.Open(ctx, spec, source.Options{S3: o.s3, TmpDir: o.tmpDir})
}

// refuseOwnData refuses a source that overlaps the service's own data: the same S3 bucket with
// one prefix inside the other, or a local path inside the data directory or holding it.
func (o *sourceOpener) refuseOwnData(spec string) error {
	if rest, ok := strings.CutPrefix(spec, "s3://"); ok {
		own, isS3 := strings.CutPrefix(o.ownBlobs, "s3://")
		if !isS3 {
			return nil
		}
		bucket, prefix, _ := strings.Cut(rest, "/")
		ownBucket, ownPrefix, _ := strings.Cut(own, "/")
		if bucket == ownBucket && prefixesOverlap(strings.Trim(prefix, "/"), strings.Trim(ownPrefix, "/")) {
			return fmt.Errorf("%s overlaps this service's own blob store %s: a job cannot read the service's data: %w", spec, o.ownBlobs, engine.ErrInvalid)
		}
		return nil
	}
	abs, err := resolve(spec)
	if err != nil {
		return nil // the source reports a missing path itself
	}
	data, err := resolve(o.dataDir)
	if err != nil {
		return nil
	}
	if prefixesOverlap(abs, data) {
		return fmt.Errorf("%s overlaps this service's data directory: a job cannot read the service's data: %w", spec, engine.ErrInvalid)
	}
	return nil
}

// prefixesOverlap reports whether one slash-separated path is the other or lies below it ("" is
// everything).
func prefixesOverlap(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == "" || b == a || strings.HasPrefix(b, a+"/") || a == "/"
}

// resolve makes path absolute with its symbolic links resolved, so that a link cannot lead
// out of the ingest root.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
