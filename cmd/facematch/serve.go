package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/facematch/facematch/api"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/catalog"
)

// serveConfig is `facematch serve`'s configuration beyond the model flags.
type serveConfig struct {
	Addr            string
	DataDir         string // metadata.db, wal/ and (with the local default) blobs/
	Blobs           string // "" (local directory) or s3://bucket/prefix
	S3              s3.Config
	Reviewers       int
	MaxBody         int64
	ShutdownTimeout time.Duration
	Bootstrap       string // FACEMATCH_BOOTSTRAP_TOKEN
}

func (c serveConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr must be host:port, got %q", c.Addr))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.Blobs != "" && !strings.HasPrefix(c.Blobs, "s3://") {
		errs = append(errs, fmt.Errorf("--blobs must be empty (a local directory under --data-dir) or s3://bucket/prefix, got %q", c.Blobs))
	}
	if c.Reviewers < 1 {
		errs = append(errs, fmt.Errorf("--reviewers must be at least 1, got %d", c.Reviewers))
	}
	if c.MaxBody < 1<<20 {
		errs = append(errs, fmt.Errorf("--max-body must be at least 1 MiB, got %d", c.MaxBody))
	}
	if c.Bootstrap != "" && len(c.Bootstrap) < 16 {
		errs = append(errs, errors.New("FACEMATCH_BOOTSTRAP_TOKEN must be at least 16 characters"))
	}
	return errors.Join(errs...)
}

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var sc serveConfig
	fs.StringVar(&sc.Addr, "addr", envOr(m.Getenv, "FACEMATCH_ADDR", "127.0.0.1:8080"), "listen address (env FACEMATCH_ADDR)")
	fs.StringVar(&sc.DataDir, "data-dir", envOr(m.Getenv, "FACEMATCH_DATA_DIR", "var"), "directory for the metadata database, the index WAL and local blobs (env FACEMATCH_DATA_DIR)")
	fs.StringVar(&sc.Blobs, "blobs", m.Getenv("FACEMATCH_BLOBS"), "blob store: empty for <data-dir>/blobs, or s3://bucket/prefix (env FACEMATCH_BLOBS)")
	fs.StringVar(&sc.S3.Endpoint, "s3-endpoint", m.Getenv("FACEMATCH_S3_ENDPOINT"), "S3 host:port (env FACEMATCH_S3_ENDPOINT); keys from FACEMATCH_S3_ACCESS_KEY and FACEMATCH_S3_SECRET_KEY")
	insecure := fs.Bool("s3-insecure", m.Getenv("FACEMATCH_S3_INSECURE") == "1", "talk plain HTTP to S3 (env FACEMATCH_S3_INSECURE=1)")
	fs.IntVar(&sc.Reviewers, "reviewers", 2, "distinct reviewers who must agree before a match is final")
	fs.Int64Var(&sc.MaxBody, "max-body", 25<<20, "largest request body in bytes")
	fs.DurationVar(&sc.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	sc.Bootstrap = m.Getenv("FACEMATCH_BOOTSTRAP_TOKEN")
	sc.S3.AccessKey, sc.S3.SecretKey, sc.S3.Secure = m.Getenv("FACEMATCH_S3_ACCESS_KEY"), m.Getenv("FACEMATCH_S3_SECRET_KEY"), !*insecure
	if err := errors.Join(mc.Validate(), sc.Validate()); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(m.Stderr, nil))

	p, err := mc.build()
	if err != nil {
		return err
	}
	defer p.Close()
	model := p.Embedder.Identity()
	dimmer, ok := p.Embedder.(interface{ Dim() int })
	if !ok {
		return fmt.Errorf("recognizer %s does not report its dimension", model)
	}

	var store engine.BlobStore
	var indexStore index.ObjectStore
	if sc.Blobs == "" {
		ls, err := local.Open(filepath.Join(sc.DataDir, "blobs"))
		if err != nil {
			return err
		}
		store, indexStore = ls, ls
	} else {
		u, err := url.Parse(sc.Blobs)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--blobs: want s3://bucket/prefix, got %q", sc.Blobs)
		}
		sc.S3.Bucket, sc.S3.Prefix = u.Host, strings.Trim(u.Path, "/")
		ss, err := s3.Open(ctx, sc.S3)
		if err != nil {
			return err
		}
		if err := ss.EnsureBucket(ctx, false); err != nil {
			return err
		}
		store, indexStore = ss, ss
	}

	cat, err := catalog.Open(ctx, filepath.Join(sc.DataDir, "metadata.db"))
	if err != nil {
		return err
	}
	defer cat.Close()
	ix, err := index.Open(ctx, index.Config{Dir: filepath.Join(sc.DataDir, "wal", mc.Recognizer), Store: indexStore,
		Prefix: "index/" + mc.Recognizer, Model: model, Dim: dimmer.Dim(), Graph: index.HNSWGraph(graph.Config{}), Logger: log})
	if err != nil {
		return err
	}
	defer ix.Close()
	// Deleted vectors leave object storage when the index compacts: a compactor goroutine,
	// owned here and stopped before the index closes, runs a compaction shortly after
	// deletions (debounced, so a burst of deletions costs one rewrite).
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
			if err := ix.Compact(cctx); err != nil && cctx.Err() == nil {
				log.Warn("index compaction after deletions failed; the next deletion retries", "err", err)
			}
		}
	}()
	defer func() {
		stopCompactor()
		<-compactorDone
	}()
	svc, err := engine.NewService(engine.ServiceConfig{Catalog: cat, Blobs: store, Pipelines: map[string]*engine.Pipeline{mc.Recognizer: p.Pipeline},
		DefaultModel: mc.Recognizer, Indexes: map[string]engine.VectorIndex{model: ix}, Reviewers: sc.Reviewers, Logger: log,
		Purged: func() {
			select {
			case purged <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		return err
	}
	if err := svc.FinishPurges(ctx); err != nil {
		return err
	}
	if err := svc.Reconcile(ctx, func(string) map[uint64]bool {
		have := map[uint64]bool{}
		ix.ForEach(func(id, _ uint64, _ []float32) { have[id] = true })
		return have
	}); err != nil {
		return err
	}
	secret, err := svc.Bootstrap(ctx, sc.Bootstrap)
	if err != nil {
		return err
	}

	srv, err := api.New(api.Config{Service: svc, Logger: log, MaxBodyBytes: sc.MaxBody,
		Ready: func() error {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return cat.Ping(rctx)
		},
		Gauges: func() []api.Gauge {
			st := ix.Stats()
			l := map[string]string{"model": mc.Recognizer}
			return []api.Gauge{
				{Name: "facematch_index_faces", Help: "Faces in the vector index.", Labels: l, Value: float64(st.Faces)},
				{Name: "facematch_index_segments", Help: "Sealed index segments.", Labels: l, Value: float64(st.Segments)},
				{Name: "facematch_index_tombstones", Help: "Deleted faces not yet compacted away.", Labels: l, Value: float64(st.Tombstones)},
			}
		}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sc.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Fprintf(m.Stdout, "facematch serving on http://%s (data in %s, blobs in %s)\n", ln.Addr(), sc.DataDir, blobsName(sc))
	switch {
	case secret != "" && sc.Bootstrap != "":
		fmt.Fprintln(m.Stdout, "first admin credential: the value of FACEMATCH_BOOTSTRAP_TOKEN (name bootstrap-admin)")
	case secret != "":
		fmt.Fprintf(m.Stdout, "first admin credential (shown once, store it now): %s\n", secret)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sc.ShutdownTimeout)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	if err := ix.Flush(sctx); err != nil {
		shutdownErr = errors.Join(shutdownErr, fmt.Errorf("flush index: %w (the WAL keeps it)", err))
	}
	log.Info("stopped")
	return shutdownErr
}

func blobsName(sc serveConfig) string {
	if sc.Blobs == "" {
		return filepath.Join(sc.DataDir, "blobs")
	}
	return sc.Blobs
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
