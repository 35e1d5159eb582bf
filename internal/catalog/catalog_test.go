package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog/pgtest"
)

// The tests run on real SQLite files and on a real PostgreSQL server (the drivers production
// uses), reopened where durability matters. eachStore runs a test on both, as subtests named
// sqlite and postgres; openTest opens the store its (sub)test names.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// eachStore runs fn as subtest "sqlite" and subtest "postgres".
func eachStore(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, fn)
	}
}

// onPostgres reports whether t runs under a "postgres" subtest of eachStore.
func onPostgres(t testing.TB) bool {
	return slices.Contains(strings.Split(t.Name(), "/"), "postgres")
}

// openTest opens an empty catalog for t: a SQLite file, or a fresh PostgreSQL database on the
// test binary's shared server under eachStore's "postgres". The path or DSN it returns reopens it.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	if onPostgres(t) {
		path = pgtest.Shared(t).NewDB(t)
	}
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func i64(v int64) *int64 { return &v }

func seed(t testing.TB, d *DB) (ref, coll engine.Gallery, alice engine.Subject) {
	ctx := context.Background()
	ref = must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "wanted", Kind: engine.Reference, Model: "m@1", CreatedAt: now, CreatedBy: "admin"}))
	coll = must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m@1", CreatedAt: now, CreatedBy: "admin"}))
	alice = must[engine.Subject](t)(d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID, Name: "Alice", ExternalRef: "N-1", CreatedAt: now}))
	return
}

func face(v ...float32) engine.NewFace {
	f := engine.NewFace{Face: engine.StoredFace{Box: engine.Box{X: 1, Y: 2, W: 30, H: 40}, Quality: engine.Quality{Score: 0.9}}}
	if v != nil {
		f.Face.Model, f.Vector = "m@1", v
	} else {
		f.Face.Rejections = []string{engine.RejectBlurry}
	}
	return f
}

func TestGalleriesAndSubjects(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, coll, alice := seed(t, d)
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"duplicate gallery name", second(d.CreateGallery(ctx, engine.Gallery{Name: "wanted", Kind: engine.Collection, Model: "m@1"})), engine.ErrConflict},
			{"unknown kind", second(d.CreateGallery(ctx, engine.Gallery{Name: "x", Kind: "other", Model: "m@1"})), engine.ErrInvalid},
			{"blank name", second(d.CreateGallery(ctx, engine.Gallery{Name: "  ", Kind: engine.Reference, Model: "m@1"})), engine.ErrInvalid},
			{"unknown gallery", second(d.Gallery(ctx, 999)), engine.ErrNotFound},
			{"subject in a collection", second(d.CreateSubject(ctx, engine.Subject{GalleryID: coll.ID, Name: "Bob"})), engine.ErrConflict},
			{"subject in unknown gallery", second(d.CreateSubject(ctx, engine.Subject{GalleryID: 999, Name: "Bob"})), engine.ErrNotFound},
			{"subject without name", second(d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID})), engine.ErrInvalid},
			{"unknown subject", second(d.Subject(ctx, 999)), engine.ErrNotFound},
			{"subjects of unknown gallery", second(d.Subjects(ctx, 999)), engine.ErrNotFound},
		}
		for _, tc := range tests {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
			}
		}
		gs := must[[]engine.Gallery](t)(d.Galleries(ctx))
		if len(gs) != 2 || gs[0].Name != "wanted" || gs[1].Kind != engine.Collection || !gs[0].CreatedAt.Equal(now) {
			t.Fatalf("galleries = %+v", gs)
		}
		ss := must[[]engine.Subject](t)(d.Subjects(ctx, ref.ID))
		if len(ss) != 1 || ss[0] != alice {
			t.Fatalf("subjects = %+v, want [%+v]", ss, alice)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestImagesFacesAndDuplicates(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, path := openTest(t)
		ref, coll, alice := seed(t, d)
		img := engine.Image{GalleryID: ref.ID, SubjectID: &alice.ID, SHA256: "aa", Format: "jpeg", Bytes: 10, Width: 250, Height: 250,
			BlobKey: "images/1/aa", CreatedAt: now, CreatedBy: "analyst",
			Source: engine.Source{Site: "example", Phones: []string{"+4915112345678"}, PostedAt: &now}}
		stored, faces, err := d.AddImage(ctx, img, []engine.NewFace{face(0.6, 0.8), face()})
		if err != nil {
			t.Fatal(err)
		}
		if len(faces) != 2 || faces[0].Model != "m@1" || faces[1].Model != "" || !faces[0].Accepted() || faces[1].Accepted() {
			t.Fatalf("faces = %+v", faces)
		}
		if *faces[0].SubjectID != alice.ID || faces[0].GalleryID != ref.ID || faces[0].ImageID != stored.ID {
			t.Fatalf("face links = %+v", faces[0])
		}
		// The same bytes again: the stored image, its faces, and ErrConflict.
		again, againFaces, err := d.AddImage(ctx, img, []engine.NewFace{face(1, 0)})
		if !errors.Is(err, engine.ErrConflict) || again.ID != stored.ID || len(againFaces) != 2 {
			t.Fatalf("duplicate: %v %+v %d faces", err, again, len(againFaces))
		}
		// The same bytes in another gallery are another image.
		other := img
		other.GalleryID, other.SubjectID = coll.ID, nil
		if _, _, err := d.AddImage(ctx, other, nil); err != nil {
			t.Fatalf("same bytes in another gallery: %v", err)
		}
		bad := img
		bad.SHA256 = "bb"
		bad.SubjectID = i64(999)
		if _, _, err := d.AddImage(ctx, bad, nil); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("unknown subject: %v", err)
		}
		bad.GalleryID, bad.SubjectID = coll.ID, &alice.ID
		if _, _, err := d.AddImage(ctx, bad, nil); !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("subject of another gallery: %v", err)
		}

		// Everything survives a reopen, vectors bit for bit.
		d.Close()
		d2, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		got := must[engine.Image](t)(d2.Image(ctx, stored.ID))
		if got.Source.Phones[0] != "+4915112345678" || !got.Source.PostedAt.Equal(now) || got.BlobKey != "images/1/aa" {
			t.Fatalf("image after reopen = %+v", got)
		}
		var vecs [][]float32
		err = d2.Vectors(ctx, "m@1", func(id, gid int64, v []float32) error {
			if id != faces[0].ID || gid != ref.ID {
				t.Errorf("vector of face %d gallery %d", id, gid)
			}
			vecs = append(vecs, v)
			return nil
		})
		if err != nil || len(vecs) != 1 || !slices.Equal(vecs[0], []float32{0.6, 0.8}) {
			t.Fatalf("vectors = %v, %v", vecs, err)
		}
		byID := must[map[int64]engine.StoredFace](t)(d2.FacesByID(ctx, []int64{faces[0].ID, faces[1].ID, 12345}))
		if len(byID) != 2 || byID[faces[1].ID].Rejections[0] != engine.RejectBlurry {
			t.Fatalf("FacesByID = %+v", byID)
		}
		g := must[engine.Gallery](t)(d2.Gallery(ctx, ref.ID))
		if g.Images != 1 || g.Faces != 2 || g.Subjects != 1 {
			t.Fatalf("gallery counts = %+v", g)
		}
	})
}

// searchWithMatch records a search by requester proposing the first face of a fresh image.
func searchWithMatch(t *testing.T, d *DB, gallery int64, subject *int64, requester, sha string) (engine.Match, engine.StoredFace) {
	t.Helper()
	ctx := context.Background()
	_, faces, err := d.AddImage(ctx, engine.Image{GalleryID: gallery, SubjectID: subject, SHA256: sha, Format: "jpeg", BlobKey: "images/" + sha,
		CreatedAt: now, CreatedBy: "analyst"}, []engine.NewFace{face(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, ms, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: requester, Purpose: "case 7", Galleries: []int64{gallery}, K: 20, CreatedAt: now},
		[]engine.ProbeFace{{Quality: engine.Quality{Score: 0.99}}}, []engine.Candidate{{ProbeIndex: 0, FaceID: faces[0].ID, Similarity: 0.7, Rank: 1, Review: true}})
	if err != nil || len(ms) != 1 || ms[0].MatchID == 0 {
		t.Fatalf("RecordSearch: %v, %d candidates", err, len(ms))
	}
	m, err := d.Match(ctx, ms[0].MatchID)
	if err != nil {
		t.Fatal(err)
	}
	return m, faces[0]
}

func TestDecisions(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		tests := []struct {
			name      string
			decisions [][2]string // reviewer, decision
			wantErr   []error     // per decision
			want      engine.MatchStatus
		}{
			{"two agree", [][2]string{{"r1", "potential_candidate"}, {"r2", "potential_candidate"}}, []error{nil, nil}, engine.PotentialCandidate},
			{"one is not enough", [][2]string{{"r1", "no_candidate"}}, []error{nil}, engine.Pending},
			{"disagreement", [][2]string{{"r1", "potential_candidate"}, {"r2", "no_candidate"}}, []error{nil, nil}, engine.Disputed},
			{"a third settles a dispute", [][2]string{{"r1", "inconclusive"}, {"r2", "no_candidate"}, {"r3", "no_candidate"}}, []error{nil, nil, nil}, engine.NoCandidate},
			{"a settled dispute refuses a fourth", [][2]string{{"r1", "inconclusive"}, {"r2", "no_candidate"}, {"r3", "inconclusive"}, {"r4", "no_candidate"}},
				[]error{nil, nil, nil, engine.ErrConflict}, engine.Inconclusive},
			{"final refuses a third", [][2]string{{"r1", "no_candidate"}, {"r2", "no_candidate"}, {"r3", "potential_candidate"}}, []error{nil, nil, engine.ErrConflict}, engine.NoCandidate},
			{"twice by one reviewer", [][2]string{{"r1", "no_candidate"}, {"r1", "no_candidate"}}, []error{nil, engine.ErrConflict}, engine.Pending},
			{"the searcher", [][2]string{{"analyst", "potential_candidate"}}, []error{engine.ErrForbidden}, engine.Pending},
			{"unknown decision", [][2]string{{"r1", "maybe"}}, []error{engine.ErrInvalid}, engine.Pending},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				m, _ := searchWithMatch(t, d, ref.ID, &alice.ID, "analyst", "sha-"+string(rune('a'+i)))
				if m.Status != engine.Pending || *m.SubjectID != alice.ID {
					t.Fatalf("new match = %+v", m)
				}
				for j, dec := range tc.decisions {
					_, err := d.Decide(ctx, m.ID, dec[0], engine.MatchStatus(dec[1]), "note", 2)
					if !errors.Is(err, tc.wantErr[j]) || (tc.wantErr[j] == nil && err != nil) {
						t.Fatalf("decision %d: err = %v, want %v", j, err, tc.wantErr[j])
					}
				}
				got := must[engine.Match](t)(d.Match(ctx, m.ID))
				if got.Status != tc.want {
					t.Fatalf("status = %s, want %s (decisions %+v)", got.Status, tc.want, got.Decisions)
				}
			})
		}
		if _, err := d.Decide(ctx, 99999, "r1", engine.NoCandidate, "", 2); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("unknown match: %v", err)
		}
		// Paging and filters.
		all := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{Limit: 3}))
		next := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{Limit: 100, Cursor: all[2].ID}))
		if len(all) != 3 || len(next) != len(tests)-3 || next[0].ID <= all[2].ID {
			t.Fatalf("pages: %d then %d", len(all), len(next))
		}
		disputed := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{Status: []engine.MatchStatus{engine.Disputed}}))
		if len(disputed) != 1 {
			t.Fatalf("%d disputed matches, want 1 (the others were settled)", len(disputed))
		}
	})
}

// Concurrent decisions by distinct reviewers land until the match is final; the rest are
// refused, and the status reflects the ones that landed.
func TestConcurrentDecisions(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		m, _ := searchWithMatch(t, d, ref.ID, &alice.ID, "analyst", "c1")
		decideAtOnce(t, m.ID, d)
	})
}

// decideAtOnce has six decisions by three reviewers race on the match, spread over the handles
// (one process each), and checks that exactly two land (the rule's two reviewers) and the
// others are refused as conflicts.
func decideAtOnce(t *testing.T, match int64, handles ...*DB) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = handles[i%len(handles)].Decide(ctx, match, "reviewer-"+string(rune('a'+i%3)), engine.NoCandidate, "", 2)
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, engine.ErrConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	got := must[engine.Match](t)(handles[0].Match(ctx, match))
	if ok != 2 || conflicts != 4 || len(got.Decisions) != 2 || got.Status != engine.NoCandidate {
		t.Fatalf("%d ok, %d conflicts, match %+v", ok, conflicts, got)
	}
}

func TestDeletionRecordsAPurge(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, path := openTest(t)
		ref, coll, alice := seed(t, d)
		m, f := searchWithMatch(t, d, ref.ID, &alice.ID, "analyst", "d1")
		// A thumbnail key makes the purge list it.
		if _, err := d.write.Exec(`UPDATE faces SET thumb_key = 'thumbs/x' WHERE id = ?`, f.ID); err != nil {
			t.Fatal(err)
		}
		_, collFaces, err := d.AddImage(ctx, engine.Image{GalleryID: coll.ID, SHA256: "d2", Format: "jpeg", BlobKey: "images/d2", CreatedAt: now}, []engine.NewFace{face(0, 1)})
		if err != nil {
			t.Fatal(err)
		}

		p, err := d.DeleteSubject(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.BlobKeys, []string{"images/d1", "thumbs/x"}) || !slices.Equal(p.FaceIDs["m@1"], []int64{f.ID}) {
			t.Fatalf("purge = %+v", p)
		}
		for name, err := range map[string]error{
			"subject": second(d.Subject(ctx, alice.ID)),
			"face":    second(d.Face(ctx, f.ID)),
			"match":   second(d.Match(ctx, m.ID)),
		} {
			if !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("%s after deleting the subject: %v", name, err)
			}
		}
		if _, err := d.Face(ctx, collFaces[0].ID); err != nil {
			t.Fatalf("a face of another gallery went with the subject: %v", err)
		}
		if _, err := d.DeleteSubject(ctx, alice.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		// The purge is pending until done, across a reopen.
		d.Close()
		d2, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		pending := must[[]engine.Purge](t)(d2.PendingPurges(ctx))
		if len(pending) != 1 || pending[0].ID != p.ID || !slices.Equal(pending[0].BlobKeys, p.BlobKeys) {
			t.Fatalf("pending after reopen = %+v", pending)
		}
		if err := d2.PurgeDone(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		gp, err := d2.DeleteGallery(ctx, coll.ID)
		if err != nil || !slices.Equal(gp.FaceIDs["m@1"], []int64{collFaces[0].ID}) {
			t.Fatalf("delete gallery: %+v %v", gp, err)
		}
		if pending := must[[]engine.Purge](t)(d2.PendingPurges(ctx)); len(pending) != 1 || pending[0].ID != gp.ID {
			t.Fatalf("pending = %+v", pending)
		}
	})
}

func TestAuditIsAppendOnly(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, path := openTest(t)
		for i, a := range []string{"search.create", "match.decide", "search.create"} {
			if _, err := d.Append(ctx, engine.AuditEntry{At: now.Add(time.Duration(i) * time.Minute), Actor: []string{"ann", "rev", "ann"}[i],
				Action: a, Galleries: []int64{1, 2}, Input: "sha256:ab", RequestID: fmt.Sprint("server-", i), ClientRequestID: fmt.Sprint("client-", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Append(ctx, engine.AuditEntry{Action: "x"}); err == nil {
			t.Fatal("an entry without an actor was accepted")
		}
		// Not even SQL can change or remove an entry.
		for _, stmt := range []string{`UPDATE audit SET actor = 'mallory'`, `DELETE FROM audit`} {
			if _, err := d.write.Exec(stmt); err == nil {
				t.Fatalf("%s succeeded", stmt)
			}
		}
		d.Close()
		d, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		tests := []struct {
			f    engine.AuditFilter
			want []string
		}{
			{engine.AuditFilter{}, []string{"ann", "rev", "ann"}},
			{engine.AuditFilter{Actor: "ann"}, []string{"ann", "ann"}},
			{engine.AuditFilter{Action: "match.decide"}, []string{"rev"}},
			// Newest first by default; a cursor continues downwards.
			{engine.AuditFilter{Since: now.Add(time.Minute)}, []string{"ann", "rev"}},
			{engine.AuditFilter{Cursor: 3}, []string{"rev", "ann"}},
			{engine.AuditFilter{Limit: 2}, []string{"ann", "rev"}},
			{engine.AuditFilter{Oldest: true, Since: now.Add(time.Minute)}, []string{"rev", "ann"}},
			{engine.AuditFilter{Oldest: true, Cursor: 2}, []string{"ann"}},
			{engine.AuditFilter{Oldest: true, Cursor: 1, Limit: 1}, []string{"rev"}},
		}
		for _, tc := range tests {
			es := must[[]engine.AuditEntry](t)(d.Entries(ctx, tc.f))
			var actors []string
			for _, e := range es {
				actors = append(actors, e.Actor)
			}
			if !slices.Equal(actors, tc.want) {
				t.Errorf("filter %+v: %v, want %v", tc.f, actors, tc.want)
			}
		}
		// The client's request ID is kept apart from the server's.
		if es := must[[]engine.AuditEntry](t)(d.Entries(ctx, engine.AuditFilter{Oldest: true, Limit: 1})); es[0].RequestID != "server-0" || es[0].ClientRequestID != "client-0" {
			t.Errorf("request IDs read back: %q, %q", es[0].RequestID, es[0].ClientRequestID)
		}
	})
}

func TestTokens(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		tok := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "ann", Role: engine.RoleAnalyst, Hash: "h1", CreatedAt: now, CreatedBy: "bootstrap"}))
		if _, err := d.CreateToken(ctx, engine.Token{Name: "ann", Role: engine.RoleReviewer, Hash: "h2"}); !errors.Is(err, engine.ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := d.CreateToken(ctx, engine.Token{Name: "bob", Role: "root", Hash: "h3"}); !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("unknown role: %v", err)
		}
		got := must[engine.Token](t)(d.TokenByHash(ctx, "h1"))
		if got.ID != tok.ID || got.Role != engine.RoleAnalyst || got.RevokedAt != nil {
			t.Fatalf("by hash = %+v", got)
		}
		if _, err := d.TokenByHash(ctx, "nope"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}
		r := must[engine.Token](t)(d.RevokeToken(ctx, tok.ID, now))
		r2 := must[engine.Token](t)(d.RevokeToken(ctx, tok.ID, now.Add(time.Hour)))
		if r.RevokedAt == nil || !r2.RevokedAt.Equal(now) {
			t.Fatalf("revoked = %+v then %+v", r, r2)
		}
		if _, err := d.RevokeToken(ctx, 999, now); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
	})
}

// The only admin revoking itself would lock everyone out for good (issue 12, defect 9).
func TestLastAdminCannotBeRevoked(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		a1 := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "admin1", Role: engine.RoleAdmin, Hash: "a1", CreatedAt: now}))
		a2 := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "admin2", Role: engine.RoleAdmin, Hash: "a2", CreatedAt: now}))
		an := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "ann", Role: engine.RoleAnalyst, Hash: "an", CreatedAt: now}))
		must[engine.Token](t)(d.RevokeToken(ctx, an.ID, now))
		must[engine.Token](t)(d.RevokeToken(ctx, a1.ID, now))
		_, err := d.RevokeToken(ctx, a2.ID, now)
		if !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "last active admin") {
			t.Fatalf("revoking the last admin: %v, want ErrConflict naming the last active admin", err)
		}
		if got := must[engine.Token](t)(d.TokenByHash(ctx, "a2")); got.RevokedAt != nil {
			t.Fatalf("the last admin was revoked anyway: %+v", got)
		}
		// Revoking an already revoked admin again is not revoking the last one.
		must[engine.Token](t)(d.RevokeToken(ctx, a1.ID, now))

		// Two admins revoking each other at once: exactly one succeeds.
		a3 := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "admin3", Role: engine.RoleAdmin, Hash: "a3", CreatedAt: now}))
		errs := make(chan error, 2)
		for _, id := range []int64{a2.ID, a3.ID} {
			go func() { _, err := d.RevokeToken(ctx, id, now); errs <- err }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("concurrent revokes of the last two admins: %v and %v, want exactly one refused", e1, e2)
		}
	})
}

// openMigrated writes a database at schema version `from` holding rows, then opens it, which
// migrates it to the current version; the database is closed with the test.
func openMigrated(t *testing.T, from int, rows ...string) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	stmts := append(append(slices.Clone(schemas[:from]), fmt.Sprintf("PRAGMA user_version = %d", from)), rows...)
	for _, q := range stmts {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
