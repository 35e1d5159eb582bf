package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/facematch/facematch/bench/loadbench"
)

// runBenchLoad applies concurrent searches and uploads to a running service (bench/run load
// starts one on loopback) and prints throughput and latency percentiles.
func (m *Main) runBenchLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "service base URL (loopback)")
	photos := fs.String("photos", "../shared/data/lfw", "photo tree: uploads take fresh photos, searches reuse seeded ones")
	duration := fs.Duration("duration", time.Minute, "how long to apply load")
	workers := fs.Int("workers", 4, "concurrent clients")
	share := fs.Float64("uploads", 0.3, "fraction of operations that are uploads")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	admin := m.Getenv("FACEMATCH_ADMIN_TOKEN")
	if admin == "" {
		return fmt.Errorf("FACEMATCH_ADMIN_TOKEN must hold an admin credential of the service")
	}
	if *duration < time.Second || *workers < 1 || *share < 0 || *share > 1 {
		return fmt.Errorf("need --duration >= 1s, --workers >= 1 and --uploads in [0,1]")
	}
	res, err := loadbench.Run(ctx, loadbench.Config{URL: *url, Admin: admin, Photos: *photos, Duration: *duration, Workers: *workers,
		UploadShare: *share, Seed: 1, Log: func(f string, a ...any) { fmt.Fprintf(m.Stderr, "bench load: "+f+"\n", a...) }})
	if res != nil {
		if *asJSON {
			json.NewEncoder(m.Stdout).Encode(res)
		} else {
			out, _ := json.MarshalIndent(res, "", "  ")
			fmt.Fprintln(m.Stdout, string(out))
		}
	}
	return err
}
