package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/facematch/facematch/internal/catalog"
)

// runAudit checks or exports the audit log's hash chain. It opens the catalog read-only and
// takes no lock, so it runs beside a live service.
func (m *Main) runAudit(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "checkpoint") {
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	dataDir := fs.String("data-dir", envOr(m.Getenv, "FACEMATCH_DATA_DIR", "var"), "the data directory (env FACEMATCH_DATA_DIR)")
	dsn := fs.String("catalog", m.Getenv("FACEMATCH_CATALOG"), "a postgres:// catalog instead of the data directory's SQLite file (env FACEMATCH_CATALOG)")
	var cp catalog.Checkpoint
	if args[0] == "verify" {
		fs.Func("checkpoint", "ID:HASH printed earlier by 'facematch audit checkpoint': the log must still hold that entry unchanged", func(v string) (err error) {
			cp, err = catalog.ParseCheckpoint(v)
			return err
		})
	}
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "facematch audit %s takes no arguments, got %q\n", args[0], fs.Args())
		return errUsage
	}
	at := filepath.Join(*dataDir, "metadata.db")
	if *dsn != "" {
		at = *dsn
	}
	cat, err := catalog.OpenReadOnly(ctx, at)
	if err != nil {
		return err
	}
	defer cat.Close()
	if args[0] == "checkpoint" {
		last, err := cat.AuditCheckpoint(ctx)
		if err != nil {
			return err
		}
		if last.ID == 0 {
			return fmt.Errorf("the audit log is empty: nothing to checkpoint")
		}
		fmt.Fprintln(m.Stdout, last)
		return nil
	}
	v, err := cat.VerifyAudit(ctx, cp)
	if err != nil {
		return err
	}
	if v.BrokenID != 0 {
		return fmt.Errorf("audit log broken at entry %d: %s (%d entries before it verified)", v.BrokenID, v.Problem, v.Entries)
	}
	fmt.Fprintf(m.Stdout, "audit log intact: %d entries, last %s\n", v.Entries, v.Last)
	return nil
}
