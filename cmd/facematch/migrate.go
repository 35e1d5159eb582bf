package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/facematch/facematch/internal/catalog"
)

// runMigrate brings the catalog's schema up to this binary's version and stops. Serve does the
// same at start; a deployment whose replicas connect as a role without CREATE privileges runs
// this once, as the database's owner, before them (deploy/README.md).
func (m *Main) runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := dc.Validate(); err != nil {
		return err
	}
	at := dc.Catalog
	if at == "" {
		at = filepath.Join(dc.DataDir, "metadata.db")
	}
	db, err := catalog.Open(ctx, at)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(m.Stdout, "catalog %s is at schema version %d\n", dc.CatalogName(), catalog.SchemaVersion)
	return nil
}
