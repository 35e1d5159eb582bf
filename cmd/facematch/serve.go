package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/facematch/facematch/api"
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
	// TLSCert and TLSKey, both or neither, make the service speak HTTPS itself, for a
	// deployment without a TLS-terminating proxy in front.
	TLSCert, TLSKey string
	// TrustedProxies is a comma-separated list of CIDR prefixes whose X-Forwarded-For is
	// believed (FACEMATCH_TRUSTED_PROXIES); AuthBurst and AuthEvery limit failed
	// authentications per client address and per secret.
	TrustedProxies string
	AuthBurst      int
	AuthEvery      time.Duration
	// SweepGrace is how old an unreferenced blob must be before the sweeper deletes it: longer
	// than any upload takes between storing its blobs and writing its record.
	SweepGrace time.Duration
	// SweepInterval is the time between sweeps (the first runs at start); 0 runs none.
	SweepInterval time.Duration
	// MetricsAddr, when set, serves /metrics there without a credential, for a Prometheus
	// server that must not hold a key able to read or delete anything; keep it on a private
	// address. /metrics on --addr stays, for admins.
	MetricsAddr string
}

// trustedProxies parses TrustedProxies.
func (c serveConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR prefix (10.0.0.0/8, ::1/128)", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c serveConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr must be host:port, got %q", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr must be host:port, got %q", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr {
			errs = append(errs, errors.New("--metrics-addr must differ from --addr"))
		}
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert/--tls-key: %w", err))
		}
	}
	if _, err := c.trustedProxies(); err != nil {
		errs = append(errs, err)
	}
	if c.AuthBurst < 1 || c.AuthEvery <= 0 {
		errs = append(errs, fmt.Errorf("--auth-burst must be at least 1 and --auth-every positive, got %d and %s", c.AuthBurst, c.AuthEvery))
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
	fs.StringVar(&sc.TLSCert, "tls-cert", m.Getenv("FACEMATCH_TLS_CERT"), "PEM certificate chain: serve HTTPS (env FACEMATCH_TLS_CERT; with --tls-key)")
	fs.StringVar(&sc.TLSKey, "tls-key", m.Getenv("FACEMATCH_TLS_KEY"), "PEM private key of --tls-cert (env FACEMATCH_TLS_KEY)")
	fs.DurationVar(&sc.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for in-flight requests")
	fs.StringVar(&sc.TrustedProxies, "trusted-proxies", m.Getenv("FACEMATCH_TRUSTED_PROXIES"), "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For names the client (env FACEMATCH_TRUSTED_PROXIES; empty: the connection's address is the client's)")
	fs.IntVar(&sc.AuthBurst, "auth-burst", 10, "failed authentications in a row an address or a secret may have before it gets 429")
	fs.DurationVar(&sc.AuthEvery, "auth-every", 6*time.Second, "how often one failed authentication is forgiven")
	fs.DurationVar(&sc.SweepGrace, "sweep-grace", time.Hour, "age after which a blob no record references (left by a kill or a failed deletion) is deleted")
	fs.StringVar(&sc.MetricsAddr, "metrics-addr", m.Getenv("FACEMATCH_METRICS_ADDR"), "serve /metrics alone, without a credential, on this host:port (env FACEMATCH_METRICS_ADDR; keep it private; empty: only on --addr, for admins)")
	fs.DurationVar(&sc.SweepInterval, "sweep-interval", time.Hour, "time between sweeps for unreferenced blobs, the first at start (0: none)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	sc.Bootstrap = m.Getenv("FACEMATCH_BOOTSTRAP_TOKEN")
	if err := errors.Join(mc.Validate(), dc.Validate(), sc.Validate()); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(m.Stderr, nil))

	dc.Reviewers = sc.Reviewers
	st, err := openApp(ctx, mc, dc, log)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := st.Service.Bootstrap(ctx, sc.Bootstrap)
	if err != nil {
		return err
	}
	// The job runner and the sweeper are the app's: they stop before it closes (an interrupted
	// job stays resumable).
	st.RunBackground(ctx, sc.SweepGrace, sc.SweepInterval)

	proxies, _ := sc.trustedProxies() // validated above
	srv, err := api.New(api.Config{Service: st.Service, Logger: log, MaxBodyBytes: sc.MaxBody, MaxArchiveBytes: sc.MaxArchive, UI: webui.Handler(),
		TrustedProxies: proxies, AuthLimit: api.AuthLimit{Burst: sc.AuthBurst, Every: sc.AuthEvery},
		Ready: st.Ready, Gauges: st.Gauges})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sc.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if sc.TLSCert != "" {
		scheme = "https"
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	fmt.Fprintf(m.Stdout, "facematch serving on %s://%s (data in %s, catalog in %s, blobs in %s)\n", scheme, ln.Addr(), dc.DataDir, dc.CatalogName(), dc.BlobsName())
	switch {
	case secret != "" && sc.Bootstrap != "":
		fmt.Fprintln(m.Stdout, "first admin credential: the value of FACEMATCH_BOOTSTRAP_TOKEN (name bootstrap-admin)")
	case secret != "":
		fmt.Fprintf(m.Stdout, "first admin credential (shown once, store it now): %s\n", secret)
	}
	// The metrics listener, when asked for, is owned here like the API's: closed on every way out.
	metricsErr := make(chan error, 1)
	var metrics *http.Server
	if sc.MetricsAddr != "" {
		mln, err := net.Listen("tcp", sc.MetricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		metrics = &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		defer metrics.Close()
		fmt.Fprintf(m.Stdout, "metrics on http://%s/metrics (no credential: keep this address private)\n", mln.Addr())
		go func() { metricsErr <- metrics.Serve(mln) }()
	}
	serveErr := make(chan error, 1)
	go func() {
		if sc.TLSCert != "" {
			serveErr <- hs.ServeTLS(ln, sc.TLSCert, sc.TLSKey)
			return
		}
		serveErr <- hs.Serve(ln)
	}()
	select {
	case err := <-serveErr:
		return err
	case err := <-metricsErr:
		hs.Close()
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sc.ShutdownTimeout)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	if metrics != nil {
		shutdownErr = errors.Join(shutdownErr, metrics.Shutdown(sctx))
	}
	log.Info("stopped")
	return shutdownErr
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
