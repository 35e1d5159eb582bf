package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/facematch/facematch/bench/reviewbench"
	"github.com/facematch/facematch/internal/app"
)

// runBenchReview counts the review items a batch of searches makes, on a temporary data
// directory: the service's rule against the rule before issue 14 on the same searches.
func (m *Main) runBenchReview(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench review", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	gallery := fs.String("gallery", "", "one folder of photos per identity, enrolled as subjects")
	probes := fs.String("probes", "", "one folder of photos per identity, each photo searched twice; identities not in the gallery are strangers")
	k := fs.Int("k", 20, "candidates per search")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *gallery == "" || *probes == "" || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch bench review --gallery DIR --probes DIR [--k 20] [--json]")
		return errUsage
	}
	return m.onScratchApp(ctx, fs, mc, dc, "bench review", false, *asJSON, func(st *app.App) (any, error) {
		return reviewbench.Run(ctx, st, reviewbench.Config{Gallery: *gallery, Probes: *probes, K: *k,
			Logf: func(f string, a ...any) { fmt.Fprintf(m.Stderr, "bench review: "+f+"\n", a...) }})
	})
}
