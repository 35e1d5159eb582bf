package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/source"
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
	c.S3.AccessKey, c.S3.SecretKey = getenv("FACEMATCH_S3_ACCESS_KEY"), getenv("FACEMATCH_S3_SECRET_KEY")
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
	return errors.Join(errs...)
}

// stack is an open data directory: models, blob store, catalog, one index per recognizer,
// the service over them and the index compactor. Close stops and closes them in order.
type stack struct {
	svc     *engine.Service
	cat     *catalog.DB
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

	var store interface {
		engine.BlobStore
		index.ObjectStore
	}
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
		dimmer, ok := p.Embedder.(interface{ Dim() int })
		if !ok {
			return nil, fmt.Errorf("recognizer %s does not report its dimension", name)
		}
		// The index keeps its objects under "index/<name>/" and sweeps its own orphans; the
		// service's blob sweeper lists only engine.SweptPrefixes, never this one.
		ix, err := index.Open(ctx, index.Config{Dir: filepath.Join(dc.DataDir, "wal", name), Store: store,
			Prefix: "index/" + name, Model: p.Embedder.Identity(), Dim: dimmer.Dim(), Graph: index.HNSWGraph(graph.Config{}), Logger: log})
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
	cctx, stopCompactor := context.WithCancel(context.WithoutCancel(ctx))
	compactorDone := make(chan struct{})
	go func() {
		defer close(compactorDone)
		for {
			select {
			case <-cctx.Done():
				return
			case <-purged:
			}
			select {
			case <-cctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			for _, name := range names {
				if err := st.indexes[name].Compact(cctx); err != nil && cctx.Err() == nil {
					log.Warn("index compaction after deletions failed; the next deletion retries", "model", name, "err", err)
				}
			}
		}
	}()
	st.closers = append(st.closers, func() error {
		stopCompactor()
		<-compactorDone
		return nil
	})

	opener := &sourceOpener{s3: source.S3Config{Endpoint: dc.S3.Endpoint, AccessKey: dc.S3.AccessKey, SecretKey: dc.S3.SecretKey,
		Insecure: !dc.S3.Secure, Region: dc.S3.Region}, blobs: store, root: dc.IngestRoot, anyPath: dc.AnyLocalPath, tmpDir: filepath.Join(dc.DataDir, "tmp")}
	st.svc, err = engine.NewService(engine.ServiceConfig{Catalog: st.cat, Blobs: store, Pipelines: st.models.pipelines,
		DefaultModel: mc.Recognizer, Indexes: indexes, Reviewers: reviewers, Logger: log, Sources: opener, JobWorkers: dc.Workers,
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
	return st, nil
}

// sourceOpener opens ingest sources: S3 prefixes, local directories and archives (within root
// when set), and archives uploaded through the API ("upload:KEY" in the blob store).
type sourceOpener struct {
	s3      source.S3Config
	blobs   engine.BlobStore
	root    string
	anyPath bool
	tmpDir  string
}

func (o *sourceOpener) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	if err := os.MkdirAll(o.tmpDir, 0o700); err != nil {
		return nil, err
	}
	if key, ok := strings.CutPrefix(spec, "upload:"); ok { // an archive uploaded with the job
		return source.Archive(ctx, func(ctx context.Context) (io.ReadCloser, error) { return o.blobs.Get(ctx, key) }, o.tmpDir)
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

// resolve makes path absolute with its symbolic links resolved, so that a link cannot lead
// out of the ingest root.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
