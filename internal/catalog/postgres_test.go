package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog/pgtest"
)

// PostgreSQL's own guarantees: the schema matches SQLite's, the audit log is append-only by
// trigger and by privilege, writes from several processes run one at a time, an outage is
// "retry later" and passes, and the shared index log.

// openPG opens a catalog on a fresh database of the shared server, returning its DSN too.
func openPG(t *testing.T) (*DB, string) {
	t.Helper()
	dsn := pgtest.Shared(t).NewDB(t)
	d, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dsn
}

// strings1 reads a one-column query's rows.
func strings1(t *testing.T, d *DB, q string) []string {
	t.Helper()
	rows, err := d.read.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// The PostgreSQL baseline and the ten SQLite migrations end in the same tables, columns and
// indexes, so that the one store's SQL means the same on both; PostgreSQL's own tables (its
// schema version, the replicas' index log and job shards) aside.
func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	lite, _ := openTest(t)
	pg, _ := openPG(t)
	liteCols := strings1(t, lite, `SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name <> 'sqlite_sequence'`)
	pgCols := strings1(t, pg, `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name NOT IN ('schema_version', 'index_log', 'job_shards')`)
	if !slices.Equal(liteCols, pgCols) {
		t.Errorf("columns differ:\nSQLite only: %v\nPostgreSQL only: %v", minus(liteCols, pgCols), minus(pgCols, liteCols))
	}
	liteIdx := strings1(t, lite, `SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'`)
	pgIdx := strings1(t, pg, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
		AND indexname NOT LIKE '%\_pkey' AND indexname NOT LIKE '%\_key' AND tablename NOT IN ('schema_version', 'index_log', 'job_shards')`)
	if !slices.Equal(liteIdx, pgIdx) {
		t.Errorf("indexes differ:\nSQLite only: %v\nPostgreSQL only: %v", minus(liteIdx, pgIdx), minus(pgIdx, liteIdx))
	}
	liteFK := strings1(t, lite, `SELECT m.name || '.' || f."from" || '->' || f."table" || ' ' || f.on_delete
		FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`)
	pgFK := strings1(t, pg, `SELECT kcu.table_name || '.' || kcu.column_name || '->' || ccu.table_name || ' ' || rc.delete_rule
		FROM information_schema.referential_constraints rc
		JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
		JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.constraint_name AND ccu.constraint_schema = rc.constraint_schema
		WHERE rc.constraint_schema = current_schema() AND kcu.table_name NOT IN ('schema_version', 'index_log', 'job_shards')`)
	if !slices.Equal(liteFK, pgFK) {
		t.Errorf("foreign keys differ:\nSQLite only: %v\nPostgreSQL only: %v", minus(liteFK, pgFK), minus(pgFK, liteFK))
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// The audit log is append-only for the owner (the trigger) and, moreover, for the service's
// login role by privilege: it may read and append, not change or remove.
func TestPostgresAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Shared(t)
	d, dsn := openPG(t)
	if _, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "search.create"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`UPDATE audit SET actor = 'mallory'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := d.write.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("owner: %s: %v, want the append-only trigger's refusal", stmt, err)
		}
	}

	// The deployment's login role, IN ROLE facematch_app.
	login := "fm_login_" + strings.TrimPrefix(dsn[strings.LastIndex(dsn, "/")+1:], "t")
	login = login[:strings.IndexByte(login+"?", '?')]
	if err := srv.Exec(ctx, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN IN ROLE %s", login, AppRole)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Exec(ctx, "postgres", "DROP ROLE IF EXISTS "+login) })
	db := dsn[strings.LastIndex(dsn, "/")+1:]
	db = db[:strings.IndexByte(db+"?", '?')]
	app, err := Open(ctx, srv.DSNAs(login, "", db))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Append(ctx, engine.AuditEntry{Actor: "rev", Action: "match.decide"}); err != nil {
		t.Fatalf("the application's role cannot append: %v", err)
	}
	if _, err := app.CreateGallery(ctx, engine.Gallery{Name: "g", Kind: engine.Reference, Model: "m@1", CreatedAt: now, CreatedBy: "admin"}); err != nil {
		t.Fatalf("the application's role cannot write its tables: %v", err)
	}
	if es, err := app.Entries(ctx, engine.AuditFilter{}); err != nil || len(es) != 2 {
		t.Fatalf("the application's role reads %d entries, %v", len(es), err)
	}
	for _, stmt := range []string{`UPDATE audit SET actor = 'mallory'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := app.write.ExecContext(ctx, stmt); pgCode(err) != "42501" {
			t.Errorf("application role: %s: %v, want insufficient_privilege (42501)", stmt, err)
		}
	}
	if v := must[Verification](t)(d.VerifyAudit(ctx, Checkpoint{})); v.Problem != "" || v.BrokenID != 0 {
		t.Errorf("chain after the refused changes: %+v", v)
	}
}

// Two processes deciding the same match at once (two DB handles, two pools): the write lock
// makes the two-reviewer rule hold as SQLite's one writer does: exactly two decisions count.
func TestPostgresConcurrentDecisionsFromTwoHandles(t *testing.T) {
	ctx := context.Background()
	d1, dsn := openPG(t)
	d2, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	ref, _, alice := seed(t, d1)
	for round := range 5 {
		m, _ := searchWithMatch(t, d1, ref.ID, &alice.ID, "analyst", fmt.Sprint("c", round))
		decideAtOnce(t, m.ID, d1, d2)
	}
	// The audit chain, appended from both handles at once, stays one chain.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := []*DB{d1, d2}[i%2].Append(ctx, engine.AuditEntry{Actor: "a", Action: "x"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v := must[Verification](t)(d1.VerifyAudit(ctx, Checkpoint{})); v.Problem != "" || v.BrokenID != 0 {
		t.Errorf("chain appended from two handles: %+v", v)
	}
}

// A write lock held elsewhere past the wait is "busy, retry", as SQLite's busy timeout is.
func TestPostgresWriteLockHeldElsewhereIsUnavailable(t *testing.T) {
	ctx := context.Background()
	d, dsn := openPG(t)
	d.wait = 300 * time.Millisecond
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_lock(%d)", writeLockKey)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = d.CreateGallery(ctx, engine.Gallery{Name: "g", Kind: engine.Reference, Model: "m@1", CreatedAt: now, CreatedBy: "admin"})
	var ra *engine.RetryAfter
	if !errors.Is(err, engine.ErrUnavailable) || !errors.As(err, &ra) || ra.After <= 0 {
		t.Fatalf("write under a lock held elsewhere: %v, want engine.ErrUnavailable in a RetryAfter", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("gave up after %s, want about the wait (300ms)", el)
	}
	if _, err := other.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", writeLockKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateGallery(ctx, engine.Gallery{Name: "g", Kind: engine.Reference, Model: "m@1", CreatedAt: now, CreatedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
}

// The server stopped for a while: reads and writes are "unavailable, retry later" (503 with
// Retry-After at the API), and work again once it is back, on the same DB (no reopening).
func TestPostgresOutage(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t)
	dsn := srv.NewDB(t)
	d, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ref, _, _ := seed(t, d)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // every connection of the pool is gone, and new ones are refused
		_, werr := d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID, Name: fmt.Sprint("s", i), CreatedAt: now})
		_, rerr := d.Gallery(ctx, ref.ID)
		for _, err := range []error{werr, rerr} {
			var ra *engine.RetryAfter
			if !errors.Is(err, engine.ErrUnavailable) || !errors.As(err, &ra) || ra.After <= 0 {
				t.Fatalf("during the outage: %v, want engine.ErrUnavailable in a RetryAfter", err)
			}
		}
	}
	time.Sleep(2 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID, Name: "after", CreatedAt: now}); err != nil {
		t.Fatalf("after the server is back: %v", err)
	}
	if g, err := d.Gallery(ctx, ref.ID); err != nil || g.Subjects != 2 {
		t.Fatalf("after the server is back: %+v, %v", g, err)
	}
	// A crash, not a clean stop: the same.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Gallery(ctx, ref.ID); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("after a crash: %v, want engine.ErrUnavailable", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID, Name: "after crash", CreatedAt: now}); err != nil {
		t.Fatalf("after the crash: %v", err)
	}
}

// Appends from two handles at once get sequence numbers in commit order: a reader never sees
// an op appear below one it has already read.
func TestIndexLog(t *testing.T) {
	ctx := context.Background()
	d1, dsn := openPG(t)
	d2, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()

	listen, err := pgx.Connect(ctx, d1.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close(ctx)
	if _, err := listen.Exec(ctx, "LISTEN "+IndexLogChannel); err != nil {
		t.Fatal(err)
	}

	const writers, batches = 4, 25
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() { // reads the log as it grows: what it read is always a prefix of what it reads next
		var seen, n int64 // the last seq read, and how many ops were read up to it
		for {
			select {
			case <-stop:
				readerErr <- nil
				return
			default:
			}
			ops, err := d2.IndexLogAfter(ctx, "m@1", 0, 100000)
			if err != nil {
				readerErr <- err
				return
			}
			if got := countUpTo(ops, seen); got != n {
				readerErr <- fmt.Errorf("%d ops up to seq %d, read %d before: one committed below what was read", got, seen, n)
				return
			}
			if len(ops) > 0 {
				seen, n = ops[len(ops)-1].Seq, int64(len(ops))
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := []*DB{d1, d2}[w%2]
			for b := range batches {
				face := int64(w*1000 + b*10)
				ops := []IndexLogOp{
					{Model: "m@1", FaceID: face, GalleryID: 1, Vector: []float32{1, 2}},
					{Model: "m@1", FaceID: face + 1, GalleryID: 1, Vector: []float32{float32(w), float32(b)}},
					{Model: "m@1", FaceID: face, GalleryID: 1, Delete: true},
				}
				if _, err := d.AppendIndexLog(ctx, ops); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	ops := must[[]IndexLogOp](t)(d1.IndexLogAfter(ctx, "m@1", 0, 100000))
	if len(ops) != writers*batches*3 {
		t.Fatalf("%d ops, want %d", len(ops), writers*batches*3)
	}
	// A batch is contiguous (its append held the lock), in order, and its vectors read back,
	// but for the deleted face's: its deletion forgot it.
	for i := 0; i < len(ops); i += 3 {
		a, b, c := ops[i], ops[i+1], ops[i+2]
		if b.FaceID != a.FaceID+1 || c.FaceID != a.FaceID || !c.Delete || a.Delete || c.Vector != nil || a.Vector != nil ||
			len(b.Vector) != 2 || b.Vector[0] != float32(b.FaceID/1000) || b.Seq != a.Seq+1 || c.Seq != b.Seq+1 {
			t.Fatalf("batch at %d: %+v %+v %+v", i, a, b, c)
		}
	}
	if page := must[[]IndexLogOp](t)(d1.IndexLogAfter(ctx, "m@1", ops[9].Seq, 5)); len(page) != 5 || page[0].Seq != ops[10].Seq {
		t.Errorf("page after %d: %+v", ops[9].Seq, page)
	}
	if other := must[[]IndexLogOp](t)(d1.IndexLogAfter(ctx, "other", 0, 10)); len(other) != 0 {
		t.Errorf("another model's log: %+v", other)
	}
	nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := listen.WaitForNotification(nctx); err != nil || n.Channel != IndexLogChannel || n.Payload != "m@1" {
		t.Errorf("notification: %+v, %v", n, err)
	}

	// A deletion logged later forgets the face's vector too; its ops stay (the replicas still
	// apply them).
	if _, err := d2.AppendIndexLog(ctx, []IndexLogOp{{Model: "m@1", FaceID: ops[1].FaceID, GalleryID: 1, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	for _, op := range must[[]IndexLogOp](t)(d1.IndexLogAfter(ctx, "m@1", 0, 100000)) {
		if !op.Delete && op.FaceID%10 == 1 && (op.FaceID == ops[1].FaceID) != (op.Vector == nil) {
			t.Fatalf("after deleting face %d: %+v", ops[1].FaceID, op)
		}
	}
	// Trim: everything up to a seq goes, the rest stays.
	if err := d1.TrimIndexLog(ctx, "m@1", ops[29].Seq); err != nil {
		t.Fatal(err)
	}
	if left := must[[]IndexLogOp](t)(d1.IndexLogAfter(ctx, "m@1", 0, 100000)); len(left) != len(ops)-30+1 || left[0].Seq != ops[30].Seq { // +1: the deletion above
		t.Fatalf("after trimming to %d: %d ops left, first %+v", ops[29].Seq, len(left), left[0])
	}
}

func countUpTo(ops []IndexLogOp, seq int64) int64 {
	var n int64
	for _, op := range ops {
		if op.Seq <= seq {
			n++
		}
	}
	return n
}

// On SQLite the shared log's methods say it needs PostgreSQL.
func TestIndexLogNeedsPostgres(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	if d.Postgres() || d.DSN() != "" {
		t.Error("a SQLite catalog says it is on PostgreSQL")
	}
	for _, err := range []error{
		second(d.AppendIndexLog(ctx, []IndexLogOp{{Model: "m", FaceID: 1}})),
		second(d.IndexLogAfter(ctx, "m", 0, 1)),
		d.TrimIndexLog(ctx, "m", 1),
	} {
		if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("on SQLite: %v", err)
		}
	}
}

// Replicas starting at once on an empty database: one migrates, the others find it done.
func TestPostgresMigratesOnceUnderConcurrentOpens(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDB(t)
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Add(1)
		go func() { defer wg.Done(); dbs[i], errs[i] = Open(ctx, dsn) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	if vs := strings1(t, dbs[0], `SELECT version::text FROM schema_version`); !slices.Equal(vs, []string{fmt.Sprint(schemaVersion)}) {
		t.Errorf("schema_version rows %v, want one, %d", vs, schemaVersion)
	}
}

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?', "?x", ? -- what?` + "\n" + `, ?`, `SELECT '?', "?x", $1 -- what?` + "\n" + `, $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	} {
		if got := placeholders(tc.in); got != tc.want {
			t.Errorf("placeholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A migrating role without CREATEROLE (a managed database's owner, say) migrates all the same;
// the application's role is then the administrator's to make.
func TestPostgresMigratesWithoutCreateRole(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t) // its own server: facematch_app must not exist yet
	for _, q := range []string{"CREATE ROLE owner LOGIN", "CREATE DATABASE fm OWNER owner"} {
		if err := srv.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(ctx, srv.DSNAs("owner", "", "fm"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Append(ctx, engine.AuditEntry{Actor: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	if roles := strings1(t, d, `SELECT rolname::text FROM pg_roles WHERE rolname = '`+AppRole+`'`); len(roles) != 0 {
		t.Errorf("role %s created by a role without CREATEROLE", AppRole)
	}
}

// A request that gave up (its context cancelled or past its deadline) is its own error, not an
// outage to retry.
func TestPostgresCancelledIsNotUnavailable(t *testing.T) {
	d, _ := openPG(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, werr := d.CreateGallery(ctx, engine.Gallery{Name: "g", Kind: engine.Reference, Model: "m@1", CreatedAt: now, CreatedBy: "admin"})
	_, rerr := d.Galleries(ctx)
	for _, err := range []error{werr, rerr} {
		if err == nil || errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled, not ErrUnavailable", err)
		}
	}
}
