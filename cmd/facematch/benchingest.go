package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/facematch/facematch/bench/ingestbench"
	"github.com/facematch/facematch/internal/app"
)

// runBenchIngest ingests a photo tree (LFW) into a fresh collection on a temporary data
// directory, cross-matched against a reference gallery of one photo of each of --refs people,
// and compares the pipeline's rate with the bare model calls' on the same cores.
func (m *Main) runBenchIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	photos := fs.String("photos", "../shared/data/lfw", "photo tree, one folder per person (LFW)")
	refs := fs.Int("refs", 200, "reference people (one photo each; people with at least two photos first)")
	sample := fs.Int("sample", 400, "photos the bound is measured on")
	asJSON := fs.Bool("json", false, "print one JSON object")
	keep := fs.Bool("keep", false, "keep the data directory (default: a temporary one, removed)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the ingest run to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if !isFlagSet(fs, "threads") {
		mc.Threads = 1
	}
	dc.AnyLocalPath = true
	return m.onScratchApp(ctx, fs, mc, dc, "bench ingest", *keep, *asJSON, func(st *app.App) (any, error) {
		return ingestbench.Run(ctx, st, ingestbench.Config{Photos: *photos, Refs: *refs, Sample: *sample, Workers: dc.Workers,
			Threads: mc.Threads, CPUProfile: *cpuprofile,
			Logf: func(f string, a ...any) { fmt.Fprintf(m.Stderr, "bench ingest: "+f+"\n", a...) }})
	})
}

// onScratchApp opens the service's parts on dc, a temporary data directory unless --data-dir
// was given (removed afterwards unless keep), runs run on them, and prints what it returns as
// JSON (one line with --json, indented otherwise). what names the command in temporary names.
func (m *Main) onScratchApp(ctx context.Context, fs *flag.FlagSet, mc Config, dc dataConfig, what string, keep, asJSON bool, run func(*app.App) (any, error)) error {
	if !isFlagSet(fs, "data-dir") {
		tmp, err := os.MkdirTemp("", "facematch-"+strings.ReplaceAll(what, " ", "-")+"-")
		if err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(tmp)
		}
		dc.DataDir = tmp
	}
	return m.onDataApp(ctx, mc, dc, func(st *app.App) error {
		res, err := run(st)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(m.Stdout).Encode(res)
		}
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(m.Stdout, string(out))
		return nil
	})
}
