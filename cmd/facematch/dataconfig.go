package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/app"
)

// dataConfig is the data directory's configuration (app.Config) as flags and environment
// variables set it: what serve and the operators' commands share.
type dataConfig struct {
	app.Config
	Models []string // recognizers run besides --recognizer (for galleries on them, and reprocessing)
	envErr error    // a malformed admission environment variable, reported by Validate
}

func (c *dataConfig) bind(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "FACEMATCH_DATA_DIR", "var"), "directory for the metadata database, the index WAL and local blobs (env FACEMATCH_DATA_DIR)")
	fs.StringVar(&c.Catalog, "catalog", getenv("FACEMATCH_CATALOG"), "metadata store: empty for SQLite in <data-dir>/metadata.db, or postgres://user:password@host/db for one of several replicas sharing it and --blobs (env FACEMATCH_CATALOG; prefer the environment, a password on the command line is visible to every user)")
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

func (c dataConfig) Validate() error { return errors.Join(c.Config.Validate(), c.envErr) }

// openApp opens the data directory dc with the models of mc.
func openApp(ctx context.Context, mc Config, dc dataConfig, log *slog.Logger) (*app.App, error) {
	ms, err := mc.BuildModels(dc.Models)
	if err != nil {
		return nil, err
	}
	cfg := dc.Config
	cfg.Logger = log
	return app.Open(ctx, cfg, ms)
}

// openCommandApp opens the data directory for a command an operator runs on it (ingest,
// sweep, admin recover, ...): warnings and errors go to stderr as JSON.
func (m *Main) openCommandApp(ctx context.Context, mc Config, dc dataConfig) (*app.App, error) {
	return openApp(ctx, mc, dc, slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
