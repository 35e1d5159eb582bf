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

	srv, err := api.New(api.Config{Service: svc, Logger: log, MaxBodyBytes: sc.MaxBody, MaxArchiveBytes: sc.MaxArchive, UI: webui.Handler(),
		Ready: func() error {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return cat.Ping(rctx)
		},
		Gauges: func() []api.Gauge {
			a := svc.Admission()
			gs := []api.Gauge{
				{Name: "facematch_admission_budget_bytes", Help: "Memory budget of photos being decoded and analysed at once.", Value: float64(a.Budget)},
				{Name: "facematch_admission_held_bytes", Help: "Memory budget held now by photos being decoded and analysed.", Value: float64(a.Held)},
				{Name: "facematch_admission_peak_bytes", Help: "Most memory budget ever held at once.", Value: float64(a.Peak)},
				{Name: "facematch_admission_refused_total", Help: "Uploads and searches answered 503 because the memory budget stayed full.", Value: float64(a.Refused)},
				{Name: "facematch_admission_late_decodes_total", Help: "Decodes that outlived the decode timeout.", Value: float64(a.Late)},
			}
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
