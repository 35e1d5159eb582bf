package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

func appendN(t *testing.T, d *DB, n int) {
	t.Helper()
	for i := range n {
		if _, err := d.Append(context.Background(), engine.AuditEntry{Actor: "ann", Action: "search.create", Target: fmt.Sprintf("search:%d", i),
			Galleries: []int64{1}, Input: `purpose="case \"7\""`}); err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs stmt on the file with the append-only triggers dropped, as someone with write
// access to the file could.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{"DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func verify(t *testing.T, path string, cp Checkpoint) Verification {
	t.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	v, err := d.VerifyAudit(context.Background(), cp)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every entry carries the hash of the one before it; the chain of a real log verifies, and a
// checkpoint names the last entry.
func TestAuditChainVerifies(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, path := openTest(t)
		appendN(t, d, 5)
		es := must[[]engine.AuditEntry](t)(d.Entries(ctx, engine.AuditFilter{Oldest: true}))
		for i, e := range es {
			if len(e.Hash) != 64 || (i == 0) != (e.PrevHash == "") || (i > 0 && e.PrevHash != es[i-1].Hash) {
				t.Fatalf("entry %d: prev %q hash %q", e.ID, e.PrevHash, e.Hash)
			}
		}
		cp := must[Checkpoint](t)(d.AuditCheckpoint(ctx))
		if cp.ID != es[4].ID || cp.Hash != es[4].Hash {
			t.Fatalf("checkpoint %v, want entry %d", cp, es[4].ID)
		}
		v := must[Verification](t)(d.VerifyAudit(ctx, cp))
		if v.BrokenID != 0 || v.Entries != 5 || v.Last != cp {
			t.Fatalf("verification %+v", v)
		}
		if got := must[Checkpoint](t)(ParseCheckpoint(cp.String())); got != cp {
			t.Fatalf("checkpoint round trip: %v, want %v", got, cp)
		}
		if _, err := ParseCheckpoint("3:abc"); err == nil {
			t.Fatal("a short hash was accepted")
		}
		// Verified beside the service, read-only.
		ro := must[*DB](t)(OpenReadOnly(ctx, path))
		defer ro.Close()
		if v := must[Verification](t)(ro.VerifyAudit(ctx, cp)); v.BrokenID != 0 || v.Entries != 5 {
			t.Fatalf("read-only verification %+v", v)
		}
		if _, err := ro.Append(ctx, engine.AuditEntry{Actor: "a", Action: "x"}); err == nil {
			t.Fatal("a read-only catalog appended")
		}
	})
}

// An entry edited in the file (triggers dropped) is found, at its ID, whichever field changed;
// so is a removed entry in the middle, and a checkpoint the log was rewritten up to.
// SQLite only: tampers with the file through a second SQLite connection, past the triggers.
func TestAuditChainFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stmts  []string
		broken int64
		want   string
	}{
		{"edited actor", []string{`UPDATE audit SET actor = 'mallory' WHERE id = 3`}, 3, "entry 3 does not match its hash"},
		{"edited galleries", []string{`UPDATE audit SET galleries = '[2]' WHERE id = 4`}, 4, "entry 4 does not match its hash"},
		{"removed entry", []string{`DELETE FROM audit WHERE id = 2`}, 3, "entry 3 does not follow entry 1"},
		{"removed first entries", []string{`DELETE FROM audit WHERE id <= 2`}, 3, "entry 3 is the first in the log but follows another"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, path := openTest(t)
			appendN(t, d, 5)
			d.Close()
			tamper(t, path, tc.stmts...)
			v := verify(t, path, Checkpoint{})
			if v.BrokenID != tc.broken || !strings.Contains(v.Problem, tc.want) {
				t.Fatalf("verification %+v, want entry %d: %q", v, tc.broken, tc.want)
			}
		})
	}
}

// Removing the last entries leaves a valid chain: only a checkpoint kept outside finds it.
// SQLite only: tampers with the file through a second SQLite connection, past the triggers.
func TestAuditChainCheckpointFindsTruncation(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	appendN(t, d, 5)
	cp := must[Checkpoint](t)(d.AuditCheckpoint(ctx))
	d.Close()
	tamper(t, path, `DELETE FROM audit WHERE id >= 4`)
	if v := verify(t, path, Checkpoint{}); v.BrokenID != 0 || v.Entries != 3 {
		t.Fatalf("without a checkpoint: %+v", v)
	}
	v := verify(t, path, cp)
	if v.BrokenID != 5 || !strings.Contains(v.Problem, "checkpoint entry 5 is missing: the log ends at entry 3") {
		t.Fatalf("with the checkpoint: %+v", v)
	}
	// The whole chain rewritten (the tamperer recomputes every hash) still differs at the
	// checkpoint.
	d2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, d2, 2) // entries 6 and 7 (IDs are never reused)
	d2.Close()
	v = verify(t, path, Checkpoint{ID: 3, Hash: strings.Repeat("0", 64)})
	if v.BrokenID != 3 || !strings.Contains(v.Problem, "does not match the checkpoint") {
		t.Fatalf("forged checkpoint: %+v", v)
	}
}

// A log written before version 4 is chained by the migration, and stays append-only.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestMigrateChainsExistingAuditEntries(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 3, `INSERT INTO audit (at, actor, action) VALUES ('2026-01-01T00:00:00.000000000Z', 'ann', 'search.create')`,
		`INSERT INTO audit (at, actor, action, galleries) VALUES ('2026-01-01T00:00:01.000000000Z', 'rev', 'match.decide', '[1]')`)
	appendN(t, d, 1)
	v := must[Verification](t)(d.VerifyAudit(ctx, Checkpoint{}))
	if v.BrokenID != 0 || v.Entries != 3 {
		t.Fatalf("after migration: %+v", v)
	}
	if _, err := d.write.Exec(`UPDATE audit SET actor = 'mallory'`); err == nil {
		t.Fatal("the migrated log can be updated")
	}
}
