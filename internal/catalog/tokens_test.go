package catalog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

// Credentials made before schema version 4 belong to a person of their own name, never expire
// and are not scoped; two reviewer credentials of one person cannot be active at once.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestCredentialsMigrateAndBelongToPeople(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t, 3, `INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES ('rev1', 'reviewer', 'h1', '2026', 'a')`)
	got, err := d.TokenByHash(ctx, "h1")
	if err != nil || got.User != "rev1" || got.ExpiresAt != nil || got.Galleries != nil {
		t.Fatalf("migrated credential = %+v, %v; want user rev1, no expiry, all galleries", got, err)
	}
	if _, err := d.CreateToken(ctx, engine.Token{Name: "rev1-laptop", User: "rev1", Role: engine.RoleReviewer, Hash: "h2", CreatedAt: now}); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("a second active reviewer credential for rev1: %v, want ErrConflict", err)
	}
	if _, err := d.CreateToken(ctx, engine.Token{Name: "rev1-analyst", User: "rev1", Role: engine.RoleAnalyst, Hash: "h3", CreatedAt: now}); err != nil {
		t.Fatalf("an analyst credential for rev1: %v", err)
	}
	must[engine.Token](t)(d.RevokeToken(ctx, got.ID, now))
	exp := now.Add(time.Hour)
	second := must[engine.Token](t)(d.CreateToken(ctx, engine.Token{Name: "rev1-laptop", User: "rev1", Role: engine.RoleReviewer, Hash: "h2", CreatedAt: now, ExpiresAt: &exp}))
	if !second.ExpiresAt.Equal(exp) {
		t.Fatalf("expiry stored as %v, want %v", second.ExpiresAt, exp)
	}
	scoped := must[engine.Token](t)(d.ScopeToken(ctx, second.ID, []int64{3, 1}))
	if len(scoped.Galleries) != 2 {
		t.Fatalf("scope = %v", scoped.Galleries)
	}
	if all := must[engine.Token](t)(d.ScopeToken(ctx, second.ID, nil)); all.Galleries != nil {
		t.Fatalf("scope to all = %v, want nil", all.Galleries)
	}
}

func TestJobsFilteredByGalleries(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		var ids []int64
		for _, name := range []string{"a", "b"} {
			g := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: name, Kind: engine.Collection, Model: "m1", CreatedAt: now, CreatedBy: "a"}))
			must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
			ids = append(ids, g.ID)
		}
		js := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{Galleries: []int64{ids[1]}}))
		if len(js) != 1 || js[0].GalleryID != ids[1] {
			t.Fatalf("jobs of gallery %d: %+v", ids[1], js)
		}
		if js := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{})); len(js) != 2 {
			t.Fatalf("unfiltered jobs: %d, want 2", len(js))
		}
	})
}

// The job runner takes the oldest queued job: OldestFirst pages upwards from the cursor, however
// many jobs there are (it looked at the newest 1,000 only).
func TestJobsOldestFirst(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		g := must[engine.Gallery](t)(d.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: "m1", CreatedAt: now, CreatedBy: "a"}))
		var ids []int64
		for range 5 {
			j := must[engine.Job](t)(d.CreateJob(ctx, engine.Job{Kind: engine.IngestJob, GalleryID: g.ID, Spec: engine.JobSpec{Source: "/x", Purpose: "p"}, CreatedBy: "op", CreatedAt: now}))
			ids = append(ids, j.ID)
		}
		first := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{State: []engine.JobState{engine.JobQueued}, OldestFirst: true, Limit: 2}))
		next := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{State: []engine.JobState{engine.JobQueued}, OldestFirst: true, Cursor: first[1].ID, Limit: 2}))
		if got := []int64{first[0].ID, first[1].ID, next[0].ID, next[1].ID}; !slices.Equal(got, ids[:4]) {
			t.Fatalf("oldest first: %v, want %v", got, ids[:4])
		}
		if newest := must[[]engine.Job](t)(d.Jobs(ctx, engine.JobFilter{Limit: 1})); newest[0].ID != ids[4] {
			t.Fatalf("newest first: %d, want %d", newest[0].ID, ids[4])
		}
	})
}
