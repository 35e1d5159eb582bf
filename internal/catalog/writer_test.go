package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

// An action and its audit entry commit together: when the entry fails, the action is undone;
// a method refused inside the work is undone alone (its savepoint) and the work goes on.
func TestAtomicallyCommitsTogether(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		err := d.Atomically(ctx, func(c engine.Catalog) error {
			if _, err := c.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m@1", CreatedAt: now}); err != nil {
				return err
			}
			_, err := c.Append(ctx, engine.AuditEntry{Action: "gallery.create"}) // no actor: refused
			return err
		})
		if err == nil {
			t.Fatal("the work succeeded with a refused entry")
		}
		if gs := must[[]engine.Gallery](t)(d.Galleries(ctx)); len(gs) != 2 {
			t.Fatalf("%d galleries: the gallery of the failed work was kept", len(gs))
		}
		m, _ := searchWithMatch(t, d, ref.ID, &alice.ID, "analyst", "atomic")
		var refused error
		err = d.Atomically(ctx, func(c engine.Catalog) error {
			_, refused = c.Decide(ctx, m.ID, "analyst", engine.NoCandidate, "", 2)
			// Read-your-writes inside the work: the refusal left nothing.
			got, err := c.Match(ctx, m.ID)
			if err != nil || len(got.Decisions) != 0 {
				return fmt.Errorf("inside the work: %+v %v", got, err)
			}
			_, err = c.Append(ctx, engine.AuditEntry{Actor: "analyst", Action: "match.decide.refused"})
			return err
		})
		if err != nil || !errors.Is(refused, engine.ErrForbidden) {
			t.Fatalf("work: %v, refusal %v", err, refused)
		}
		if es := must[[]engine.AuditEntry](t)(d.Entries(ctx, engine.AuditFilter{Action: "match.decide.refused"})); len(es) != 1 {
			t.Fatalf("%d refusal entries, want 1", len(es))
		}
	})
}

// Many writers at once (uploads, searches, decisions, audit entries) queue for the one writer:
// none of them sees SQLITE_BUSY or any other error.
func TestConcurrentWritersNeverSeeBusy(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		const writers, rounds = 32, 8
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*4)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					sha := fmt.Sprintf("w%d-r%d", w, r)
					_, faces, err := d.AddImage(ctx, engine.Image{GalleryID: ref.ID, SubjectID: &alice.ID, SHA256: sha, Format: "jpeg",
						BlobKey: "images/" + sha, CreatedAt: now, CreatedBy: "analyst"}, []engine.NewFace{face(1, 0), face(0, 1)})
					if err != nil {
						errs <- fmt.Errorf("add image: %w", err)
						continue
					}
					_, _, ms, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: "analyst", Purpose: "case", Galleries: []int64{ref.ID}, K: 5, CreatedAt: now},
						[]engine.ProbeFace{{}}, []engine.Candidate{{FaceID: faces[0].ID, Similarity: 0.8, Rank: 1, Review: true}})
					if err != nil {
						errs <- fmt.Errorf("record search: %w", err)
						continue
					}
					if _, err := d.Decide(ctx, ms[0].MatchID, fmt.Sprintf("rev%d", w), engine.NoCandidate, "", 2); err != nil {
						errs <- fmt.Errorf("decide: %w", err)
					}
					if _, err := d.Append(ctx, engine.AuditEntry{Actor: "analyst", Action: "search.create", Target: sha}); err != nil {
						errs <- fmt.Errorf("append: %w", err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		n := 0
		for err := range errs {
			if n++; n <= 5 {
				t.Error(err)
			}
		}
		if n > 0 {
			t.Fatalf("%d of %d writes failed", n, writers*rounds*4)
		}
		es := must[[]engine.AuditEntry](t)(d.Entries(ctx, engine.AuditFilter{Limit: 1000}))
		if len(es) != writers*rounds {
			t.Fatalf("%d audit entries, want %d", len(es), writers*rounds)
		}
	})
}

// Another connection holding the write lock (another process, a stuck tool) makes writes
// unavailable, to be retried: ErrUnavailable with a retry delay, never a raw "database is
// locked", and within the busy timeout.
// SQLite only: SQLite's file lock and busy timeout (postgres_test.go has PostgreSQL's write lock).
func TestWriteLockHeldElsewhereIsUnavailable(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	seed(t, d)
	lowerBusyTimeout(t, d)
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"})
	if !errors.Is(err, engine.ErrUnavailable) || engine.RetryDelay(err, 0) <= 0 {
		t.Fatalf("write under a held lock: %v, want ErrUnavailable with a retry delay", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the refusal took %s", took)
	}
	if _, err := d.CreateGallery(ctx, engine.Gallery{Name: "g", Kind: engine.Collection, Model: "m@1", CreatedAt: now}); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("create gallery under a held lock: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"}); err != nil {
		t.Fatalf("after the lock is released: %v", err)
	}
}

// A write that cannot get its turn in time (the writer busy with others past the wait) is
// ErrUnavailable with a retry delay; a caller's own deadline stays its own.
func TestWriteQueueWaitIsUnavailable(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		d.wait = 100 * time.Millisecond
		d.turn <- true // another write holds the writer
		_, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"})
		if !errors.Is(err, engine.ErrUnavailable) || engine.RetryDelay(err, 0) <= 0 {
			t.Fatalf("write behind a busy writer: %v, want ErrUnavailable with a retry delay", err)
		}
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if _, err := d.Append(short, engine.AuditEntry{Actor: "ann", Action: "search.create"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("write past its own deadline: %v", err)
		}
		<-d.turn
		if _, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"}); err != nil {
			t.Fatalf("once the writer is free: %v", err)
		}
	})
}

// metadata.db and its -wal and -shm are private (0600) whatever the umask and whoever made the
// directory; files an older version left readable are made private at open.
// SQLite only: file modes of the SQLite database.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "metadata.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s is %#o, want 0600", when, filepath.Base(p), m)
			}
		}
	}
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, d)
	check("new database")
	d.Close()
	if err := os.Chmod(path, 0o644); err != nil { // as an older version left it
		t.Fatal(err)
	}
	if d, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"}); err != nil {
		t.Fatal(err)
	}
	check("reopened database")
}

// lowerBusyTimeout makes the writer give up on a lock held elsewhere after 200 ms instead of
// seconds (the writer is one connection, so the setting stays).
func lowerBusyTimeout(t *testing.T, d *DB) {
	t.Helper()
	if _, err := d.write.Exec("PRAGMA busy_timeout = 200"); err != nil {
		t.Fatal(err)
	}
}
