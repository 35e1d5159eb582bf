// Package app is the composition root: it opens a data directory (its lock, the blob store,
// the catalog (SQLite in the directory, or PostgreSQL, which makes the process one of several
// replicas: internal/replica), one vector index per recognizer), hands them to the engine with
// the face models and the job sources, and owns the service's background goroutines (the job runner and
// the blob sweeper; each index owns its own persister and compactor). cmd/facematch, the tests
// and the benchmarks all open a service through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
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
	"github.com/facematch/facematch/internal/replica"
	"github.com/facematch/facematch/internal/source"
)

// Config says where a data directory and its blobs are and how the service over it runs.
type Config struct {
	DataDir string // metadata.db, wal/ and (with the local default) blobs/
	Blobs   string // "" (local directory) or s3://bucket/prefix
	// Catalog is "" for the SQLite file <DataDir>/metadata.db, or a postgres:// URL: then this
	// process is one replica of possibly several sharing that database and the blob store
	// (internal/replica), and DataDir holds only what is local to it (index caches, temp files).
	Catalog string
	S3      s3.Config
	// IngestRoot, when set, is the only local directory tree jobs may read (the service sets
	// it: an API client must not make the service read arbitrary files). "" allows none.
	IngestRoot string
	// AnyLocalPath lets jobs read any local path (the ingest command: its user chose it).
	AnyLocalPath bool
	Workers      int // photos a job analyses at once; 0: one more than the CPUs
	Reviewers    int // distinct reviewers who must agree; 0: the engine's default
	// CredentialLifetime is how long new and rotated credentials work.
	CredentialLifetime time.Duration
	// Admission: the memory budget of photos being analysed at once, how long a request waits
	// for it, and the decode deadline (engine.ServiceConfig explains each).
	MemoryBudget  int64
	AdmissionWait time.Duration
	DecodeTimeout time.Duration
	// CompactAfter is how long after deletions an index compacts (index.Config); 0: its default.
	CompactAfter time.Duration
	Logger       *slog.Logger // nil: slog.Default()
}

// MinMemoryBudget is the smallest budget accepted: below it a few ordinary photos could not
// be analysed at once (each weighs at least 32 MiB).
const MinMemoryBudget = 256 << 20

// Validate reports every problem at once, in the flags' names.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.Blobs != "" && !strings.HasPrefix(c.Blobs, "s3://") {
		errs = append(errs, fmt.Errorf("--blobs must be empty (a local directory under --data-dir) or s3://bucket/prefix, got %q", c.Blobs))
	}
	if c.Catalog != "" && !catalog.IsPostgresURL(c.Catalog) {
		errs = append(errs, fmt.Errorf("--catalog must be empty (SQLite in --data-dir) or a postgres:// URL, got %q", catalog.Redact(c.Catalog)))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("--workers must be >= 0, got %d", c.Workers))
	}
	if c.CredentialLifetime < time.Hour {
		errs = append(errs, fmt.Errorf("--credential-lifetime (FACEMATCH_CREDENTIAL_LIFETIME) must be a duration of at least 1h, got %v", c.CredentialLifetime))
	}
	if c.MemoryBudget < MinMemoryBudget {
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

// BlobsName is where the blobs are, for people: the bucket URL or the local directory.
func (c Config) BlobsName() string {
	if c.Blobs == "" {
		return filepath.Join(c.DataDir, "blobs")
	}
	return c.Blobs
}

// CatalogName is where the metadata is, for people (a password in the URL left out).
func (c Config) CatalogName() string {
	if c.Catalog == "" {
		return filepath.Join(c.DataDir, "metadata.db")
	}
	return catalog.Redact(c.Catalog)
}

// App is an open data directory and the service over it. Close stops and closes everything in
// the reverse order of opening.
type App struct {
	Service *engine.Service
	Catalog *catalog.DB
	Blobs   blob.Store
	// Indexes are the single node's indexes by recognizer name; with a PostgreSQL catalog they
	// are held by Replica, and IndexOf finds the current one.
	Indexes map[string]*index.Index
	Replica *replica.Node
	Models  *Models
	// identities maps recognizer names to model identities (the replica's keys).
	identities map[string]string
	log        *slog.Logger
	ready      *readiness
	closers    []func() error
}

// Close stops the background goroutines, then flushes and closes the indexes, the catalog and
// the models, and releases the directory's lock.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// The index is what the engine searches and deletes through.
var _ engine.VectorIndex = (*index.Index)(nil)

// Open opens the data directory of cfg with models (which the App then owns and closes). It
// takes the directory's lock, finishes interrupted purges and reconciles the indexes with the
// catalog.
func Open(ctx context.Context, cfg Config, models *Models) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		models.Close()
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{Indexes: map[string]*index.Index{}, Models: models, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.closers = append(a.closers, models.Close)
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { unlock(); return nil })
	if a.Blobs, err = openBlobs(ctx, cfg); err != nil {
		return nil, err
	}
	catalogAt := filepath.Join(cfg.DataDir, "metadata.db")
	if cfg.Catalog != "" {
		catalogAt = cfg.Catalog
	}
	if a.Catalog, err = catalog.Open(ctx, catalogAt); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.Catalog.Close)

	names := make([]string, 0, len(models.Pipelines))
	a.identities = map[string]string{}
	for name := range models.Pipelines {
		names = append(names, name)
		a.identities[name] = models.Pipelines[name].Embedder.Identity()
	}
	sort.Strings(names)
	// serviceReady is closed once the service exists: a replica that takes the writer's role
	// during Open waits for it before reconciling.
	serviceReady := make(chan struct{})
	vectors, present, err := a.openIndexes(ctx, cfg, names, serviceReady)
	if err != nil {
		return nil, err
	}

	opener := &source.Opener{
		S3: source.S3Config{Endpoint: cfg.S3.Endpoint, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
			Insecure: !cfg.S3.Secure, Region: cfg.S3.Region},
		Uploads: a.Blobs.Get, Root: cfg.IngestRoot, AnyLocalPath: cfg.AnyLocalPath,
		TmpDir: filepath.Join(cfg.DataDir, "tmp"), DataDir: cfg.DataDir, OwnBlobs: cfg.Blobs,
	}
	a.Service, err = engine.NewService(engine.ServiceConfig{Catalog: a.Catalog, Blobs: engineblob.Store{Blobs: a.Blobs},
		Pipelines: models.Pipelines, DefaultModel: models.Default, Indexes: vectors, Reviewers: cfg.Reviewers, Logger: log,
		Sources: opener, JobWorkers: cfg.Workers, CredentialLifetime: cfg.CredentialLifetime, Shards: a.Catalog.Shards(),
		MemoryBudget: cfg.MemoryBudget, AdmissionWait: cfg.AdmissionWait, DecodeTimeout: cfg.DecodeTimeout,
		Meta: func(r io.Reader, format string) (engine.MetaLookup, error) { return source.ReadMeta(r, format) }})
	if err != nil {
		return nil, err
	}
	close(serviceReady)
	if err := a.Service.FinishPurges(ctx); err != nil {
		return nil, err
	}
	// A replica reconciles when it becomes the writer (replica.Config.OnWriter), not here: the
	// other nodes' uploads in flight would look like strays.
	if a.Replica == nil {
		if err := a.Service.Reconcile(ctx, present); err != nil {
			return nil, err
		}
	}
	a.ready = &readiness{checks: []func(context.Context) error{a.Catalog.Ping, blobsReachable(a.Blobs)}}
	limitHeap(cfg.MemoryBudget, log)
	return a, nil
}

// indexConfig is one recognizer's index as the service runs it. The index keeps its objects
// under "index/<name>/" and sweeps its own orphans; the service's blob sweeper lists only
// engine.SweptPrefixes, never this one.
func indexConfig(cfg Config, blobs blob.Store, name string, emb interface {
	Identity() string
	Dim() int
}, dir string, log *slog.Logger) index.Config {
	return index.Config{Dir: dir, Store: blobs,
		Prefix: "index/" + name, Model: emb.Identity(), Dim: emb.Dim(), Graph: index.HNSWGraph(graph.Config{}),
		// Merges on (the default factor): the search's ef grows with a segment's size
		// (index.segmentEf), and one walk over a merged gallery reached the recall of ten
		// walks over its pieces at half their time (notes: qsearch.md).
		// Quantized: graphs built and walked on 8-bit codes, every similarity rescored
		// exactly; about twice the search speed and a third of the resident memory, the
		// float32 vectors being in mapped cache files (bench/RESULTS.md, issue 17).
		Quantized:    true,
		CompactAfter: cfg.CompactAfter, Logger: log}
}

// openIndexes opens one index per recognizer: the node's own (SQLite catalog), or this
// replica's share of the indexes every replica holds (PostgreSQL catalog). It returns them by
// model identity, as the engine names them, and what Reconcile needs.
func (a *App) openIndexes(ctx context.Context, cfg Config, names []string, serviceReady <-chan struct{}) (map[string]engine.VectorIndex, func(model string) map[uint64]bool, error) {
	vectors := make(map[string]engine.VectorIndex, len(names))
	byModel := map[string]func() *index.Index{}
	present := func(model string) map[uint64]bool {
		have := map[uint64]bool{}
		byModel[model]().ForEach(func(id, _ uint64, _ []float32) { have[id] = true })
		return have
	}
	if !a.Catalog.Postgres() {
		for _, name := range names {
			emb := a.Models.Pipelines[name].Embedder
			ix, err := index.Open(ctx, indexConfig(cfg, a.Blobs, name, emb, filepath.Join(cfg.DataDir, "wal", name), a.log))
			if err != nil {
				return nil, nil, err
			}
			a.closers = append(a.closers, func() error {
				// Flush first: a clean stop leaves the WAL empty and the restart fast.
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				return errors.Join(ix.Flush(fctx), ix.Close())
			})
			a.Indexes[name], vectors[emb.Identity()] = ix, ix
			byModel[emb.Identity()] = func() *index.Index { return ix }
		}
		return vectors, present, nil
	}
	opens := map[string]replica.OpenIndex{}
	for _, name := range names {
		emb := a.Models.Pipelines[name].Embedder
		opens[emb.Identity()] = func(ctx context.Context, follower bool) (*index.Index, error) {
			// Each role has its own directory: the incoming index is opened before the outgoing
			// one closes, and each removes its directory's cache files at open.
			role := "writer"
			if follower {
				role = "follower"
			}
			c := indexConfig(cfg, a.Blobs, name, emb, filepath.Join(cfg.DataDir, "wal", name, role), a.log)
			c.SharedLog, c.Follower = true, follower
			return index.Open(ctx, c)
		}
	}
	node, err := replica.Start(ctx, replica.Config{DSN: a.Catalog.DSN(), Log: a.Catalog, Indexes: opens, Logger: a.log,
		OnWriter: func(ctx context.Context) error {
			select {
			case <-serviceReady:
			case <-ctx.Done():
				return ctx.Err()
			}
			return a.Service.Reconcile(ctx, present)
		}})
	if err != nil {
		return nil, nil, err
	}
	a.Replica = node
	a.closers = append(a.closers, node.Close)
	for model := range opens {
		s := node.Index(model)
		vectors[model], byModel[model] = s, s.Index
	}
	return vectors, present, nil
}

// IndexOf returns the recognizer's index as it is now on this node (a replica's changes with
// its role), nil for an unknown name.
func (a *App) IndexOf(name string) *index.Index {
	if a.Replica == nil {
		return a.Indexes[name]
	}
	s := a.Replica.Index(a.identities[name])
	if s == nil {
		return nil
	}
	return s.Index()
}

func openBlobs(ctx context.Context, cfg Config) (blob.Store, error) {
	if cfg.Blobs == "" {
		return local.Open(filepath.Join(cfg.DataDir, "blobs"))
	}
	u, err := url.Parse(cfg.Blobs)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--blobs: want s3://bucket/prefix, got %q", cfg.Blobs)
	}
	sc := cfg.S3
	sc.Bucket, sc.Prefix = u.Host, strings.Trim(u.Path, "/")
	ss, err := s3.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	if err := ss.EnsureBucket(ctx, false); err != nil {
		return nil, err
	}
	return ss, nil
}

// Ready reports whether the catalog and the blob store answer (for /readyz).
func (a *App) Ready() error { return a.ready.Ready() }

// RunBackground starts what a long-running service does besides answering requests: the job
// runner, and (with a positive interval) a sweep for unreferenced blobs at once and then every
// interval, for blobs older than grace. Close stops them before anything else closes; an
// interrupted job stays resumable.
func (a *App) RunBackground(ctx context.Context, sweepGrace, sweepInterval time.Duration) {
	runner := engine.NewJobRunner(a.Service)
	a.Service.OnJobQueued(runner.Wake)
	if a.Replica != nil {
		a.Replica.OnJobs(runner.Wake) // jobs queued through the other replicas
	}
	a.closers = append(a.closers, stopFunc(goOwned(ctx, runner.Run)))
	if sweepInterval > 0 {
		a.closers = append(a.closers, stopFunc(goOwned(ctx, func(ctx context.Context) {
			sweepEvery(ctx, a.Service, sweepGrace, sweepInterval, a.log)
		})))
	}
}

func stopFunc(stop func()) func() error { return func() error { stop(); return nil } }

// goOwned runs run in a goroutine the caller owns: the returned stop cancels run's context
// (which outlives ctx's cancellation: shutdown order is the owner's) and waits for run to
// return.
func goOwned(ctx context.Context, run func(context.Context)) (stop func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(rctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// sweepEvery sweeps the blob store for unreferenced blobs and expires searches under the
// retention policy at once and then every interval until ctx ends.
func sweepEvery(ctx context.Context, svc *engine.Service, grace, interval time.Duration, log *slog.Logger) {
	for {
		if _, err := svc.Sweep(ctx, grace); err != nil && ctx.Err() == nil {
			log.Warn("sweeping unreferenced blobs failed; the next sweep retries", "err", err)
		}
		// The retention policy runs on the same beat: what it deletes is purged at once.
		if n, err := svc.ExpireSearches(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("expiring searches failed; the next pass retries", "err", err)
		} else if n > 0 {
			log.Info("expired searches under the retention policy", "searches", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
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
