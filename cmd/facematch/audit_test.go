package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog"
)

// facematch audit checkpoint exports the latest entry's ID:HASH and facematch audit verify
// checks the chain against it, beside a service that has the catalog open; a log cut short
// after the checkpoint fails verification (exit 1) at the checkpoint's entry.
func TestAuditVerifyAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "metadata.db")
	live, err := catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	for _, action := range []string{"gallery.create", "image.upload", "search.create", "match.decide"} {
		if _, err := live.Append(ctx, engine.AuditEntry{Actor: "ann", Action: action}); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "audit", "checkpoint", "--data-dir", dir)
	cp := strings.TrimSpace(r.stdout)
	if r.err != nil || !strings.HasPrefix(cp, "4:") || len(cp) != 2+64 {
		t.Fatalf("checkpoint: %s", r)
	}
	if r = run(t, "audit", "verify", "--data-dir", dir, "--checkpoint", cp); r.err != nil || !strings.Contains(r.stdout, "intact: 4 entries, last "+cp) {
		t.Fatalf("verify: %s", r)
	}
	if r = run(t, "audit", "verify", "--data-dir", dir, "--checkpoint", "4:nothex"); r.err == nil || exitCode(r.err) != 2 {
		t.Fatalf("verify with a bad checkpoint: %s", r)
	}

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER audit_no_delete", "DELETE FROM audit WHERE id >= 3"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if r = run(t, "audit", "verify", "--data-dir", dir); r.err != nil {
		t.Fatalf("the shortened chain alone still verifies: %s", r)
	}
	r = run(t, "audit", "verify", "--data-dir", dir, "--checkpoint", cp)
	if r.err == nil || exitCode(r.err) != 1 || !strings.Contains(r.err.Error(), "broken at entry 4: checkpoint entry 4 is missing: the log ends at entry 2") {
		t.Fatalf("verify of a cut log: %s", r)
	}
	// With no service running (no -wal or -shm left), read-only still opens.
	db.Close()
	live.Close()
	if r = run(t, "audit", "verify", "--data-dir", dir); r.err != nil {
		t.Fatalf("verify of a closed catalog: %s", r)
	}
}
