package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
)

// runSweep deletes the blobs no record references, on the data directory directly: it takes
// the directory's lock, so no upload of this data directory is in flight, and any grace
// period (0 included) is safe. The running service sweeps by itself (--sweep-interval).
func (m *Main) runSweep(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	grace := fs.Duration("grace", 0, "delete only unreferenced blobs older than this")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var errs []error
	if *grace < 0 {
		errs = append(errs, fmt.Errorf("--grace must be >= 0, got %s", *grace))
	}
	if err := errors.Join(append(errs, mc.Validate(), dc.Validate())...); err != nil {
		return err
	}
	st, err := m.openCommandApp(ctx, mc, dc)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Service.Sweep(ctx, *grace)
	out, _ := json.Marshal(map[string]any{"listed": rep.Listed, "deleted": rep.Deleted, "failed": rep.Failed, "grace": grace.String()})
	fmt.Fprintln(m.Stdout, string(out))
	return err
}
