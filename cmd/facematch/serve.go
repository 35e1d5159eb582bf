package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/facematch/facematch/api"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/webui"
)

// serveConfig is `facematch serve`'s configuration beyond the model flags and the data
// directory.
type serveConfig struct {
	Addr            string
	Reviewers       int
	MaxBody         int64
	MaxArchive      int64
	ShutdownTimeout time.Duration
	Bootstrap       string // FACEMATCH_BOOTSTRAP_TOKEN
	// SweepGrace is how old an unreferenced blob must be before the sweeper deletes it: longer
	// than any upload takes between storing its blobs and writing its record.
	SweepGrace time.Duration
	// SweepInterval is the time between sweeps (the first runs at start); 0 runs none.
	SweepInterval time.Duration
}

func (c serveConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr must be host:port, got %q", c.Addr))
	}
	if c.Reviewers < 1 {
		errs = append(errs, fmt.Errorf("--reviewers must be at least 1, got %d", c.Reviewers))
	}
	if c.MaxBody < 1<<20 {
		errs = append(errs, fmt.Errorf("--max-body must be at least 1 MiB, got %d", c.MaxBody))
	}
	if c.MaxArchive < c.MaxBody {
		errs = append(errs, fmt.Errorf("--max-archive must be at least --max-body, got %d", c.MaxArchive))
	}
	if c.SweepGrace < time.Minute {
		errs = append(errs, fmt.Errorf("--sweep-grace must be at least 1m (uploads in flight have blobs before records), got %s", c.SweepGrace))
	}
	if c.SweepInterval != 0 && c.SweepInterval < time.Minute {
		errs = append(errs, fmt.Errorf("--sweep-interval must be 0 (no sweeps) or at least 1m, got %s", c.SweepInterval))
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
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	var sc serveConfig
	fs.StringVar(&sc.Addr, "addr", envOr(m.Getenv, "FACEMATCH_ADDR", "127.0.0.1:8080"), "listen address (env FACEMATCH_ADDR)")
	fs.StringVar(&dc.IngestRoot, "ingest-root", m.Getenv("FACEMATCH_INGEST_ROOT"), "local directory tree API jobs may read (env FACEMATCH_INGEST_ROOT; empty: none, only S3 and uploaded archives)")
	fs.IntVar(&sc.Reviewers, "reviewers", 2, "distinct reviewers who must agree before a match is final")
	fs.Int64Var(&sc.MaxBody, "max-body", 25<<20, "largest request body in bytes")
	fs.Int64Var(&sc.MaxArchive, "max-archive", 4<<30, "largest archive uploaded to POST /v1/jobs, in bytes")
	fs.DurationVar(&sc.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for in-flight requests")
	fs.DurationVar(&sc.SweepGrace, "sweep-grace", time.Hour, "age after which a blob no record references (left by a kill or a failed deletion) is deleted")
	fs.DurationVar(&sc.SweepInterval, "sweep-interval", time.Hour, "time between sweeps for unreferenced blobs, the first at start (0: none)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	sc.Bootstrap = m.Getenv("FACEMATCH_BOOTSTRAP_TOKEN")
	if err := errors.Join(mc.Validate(), dc.Validate(), sc.Validate()); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(m.Stderr, nil))

	st, err := openStack(ctx, mc, dc, sc.Reviewers, log)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, cat := st.svc, st.cat
	secret, err := svc.Bootstrap(ctx, sc.Bootstrap)
	if err != nil {
		return err
	}
	// The job runner is owned here: it stops (leaving an interrupted job resumable) before
	// the stack closes.
	runner := engine.NewJobRunner(svc)
	svc.OnJobQueued(runner.Wake)
	rctx, stopRunner := context.WithCancel(context.WithoutCancel(ctx))
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		runner.Run(rctx)
	}()
	defer func() {
		stopRunner()
		<-runnerDone
	}()
	// The sweeper is owned here too, and stops before the stack closes.
	if sc.SweepInterval > 0 {
		sctx, stopSweeper := context.WithCancel(context.WithoutCancel(ctx))
		sweeperDone := make(chan struct{})
		go func() {
			defer close(sweeperDone)
			sweepEvery(sctx, svc, sc.SweepGrace, sc.SweepInterval, log)
		}()
		defer func() {
			stopSweeper()
			<-sweeperDone
		}()
	}

	srv, err := api.New(api.Config{Service: svc, Logger: log, MaxBodyBytes: sc.MaxBody, MaxArchiveBytes: sc.MaxArchive, UI: webui.Handler(),
		Ready: func() error {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return cat.Ping(rctx)
		},
		Gauges: func() []api.Gauge {
			var gs []api.Gauge
			for name, ix := range st.indexes {
				s := ix.Stats()
				l := map[string]string{"model": name}
				gs = append(gs,
					api.Gauge{Name: "facematch_index_faces", Help: "Faces in the vector index.", Labels: l, Value: float64(s.Faces)},
					api.Gauge{Name: "facematch_index_segments", Help: "Sealed index segments.", Labels: l, Value: float64(s.Segments)},
					api.Gauge{Name: "facematch_index_tombstones", Help: "Deleted faces not yet compacted away.", Labels: l, Value: float64(s.Tombstones)})
			}
			return gs
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
	fmt.Fprintf(m.Stdout, "facematch serving on http://%s (data in %s, blobs in %s)\n", ln.Addr(), dc.DataDir, blobsName(dc))
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
	log.Info("stopped")
	return shutdownErr
}

// sweepEvery sweeps the blob store for unreferenced blobs at once and then every interval
// until ctx ends.
func sweepEvery(ctx context.Context, svc *engine.Service, grace, interval time.Duration, log *slog.Logger) {
	for {
		if _, err := svc.Sweep(ctx, grace); err != nil && ctx.Err() == nil {
			log.Warn("sweeping unreferenced blobs failed; the next sweep retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func blobsName(dc dataConfig) string {
	if dc.Blobs == "" {
		return filepath.Join(dc.DataDir, "blobs")
	}
	return dc.Blobs
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
