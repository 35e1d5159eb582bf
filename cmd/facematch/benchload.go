package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/bench/loadbench"
)

// runBenchLoad applies levels of concurrent clients mixing large and ordinary uploads,
// searches and decisions to a running service (bench/run load starts one on loopback), then
// checks every acknowledged write and its audit entry.
func (m *Main) runBenchLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "service base URL (loopback)")
	photos := fs.String("photos", "../shared/data/lfw", "photo tree: uploads take fresh photos, searches reuse seeded ones")
	large := fs.String("large", "../shared/data/celebs", "photo tree whose first photos are upscaled for large uploads")
	largeMP := fs.Float64("large-mp", 36, "megapixels of a large upload")
	duration := fs.Duration("duration", 2*time.Minute, "how long each level lasts")
	clients := fs.String("clients", "8,16,32", "concurrent clients of each level, comma-separated")
	pid := fs.Int("pid", 0, "the service's process ID, whose resident memory is sampled (0: not measured)")
	var budget int64
	fs.Func("budget", "the service's --memory-budget (e.g. 1GiB), which bounds its memory growth", func(v string) (err error) {
		budget, err = parseBytes(v)
		return err
	})
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	admin := m.Getenv("FACEMATCH_ADMIN_TOKEN")
	if admin == "" {
		return fmt.Errorf("FACEMATCH_ADMIN_TOKEN must hold an admin credential of the service")
	}
	var levels []int
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("--clients must be positive integers separated by commas, got %q", *clients)
		}
		levels = append(levels, n)
	}
	if *duration < time.Second || *largeMP <= 0 || *largeMP > 40 || (*pid > 0 && budget <= 0) {
		return fmt.Errorf("need --duration >= 1s, --large-mp in (0, 40], and --budget with --pid")
	}
	res, err := loadbench.Run(ctx, loadbench.Config{URL: *url, Admin: admin, Photos: *photos, Large: *large, LargeMP: *largeMP,
		Duration: *duration, Clients: levels, PID: *pid, Budget: budget, Seed: 1,
		Log: func(f string, a ...any) { fmt.Fprintf(m.Stderr, "bench load: "+f+"\n", a...) }})
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
