package catalog

import (
	"context"
	"fmt"
	"testing"

	"github.com/facematch/facematch/engine"
)

// recount is what the gallery's counts must be: the rows themselves, counted.
func recount(t *testing.T, d *DB, id int64) (images, faces, subjects int) {
	t.Helper()
	for _, c := range []struct {
		table string
		n     *int
	}{{"images", &images}, {"faces", &faces}, {"subjects", &subjects}} {
		if err := d.read.QueryRow(fmt.Sprintf("SELECT count(*) FROM %s WHERE gallery_id = ?", c.table), id).Scan(c.n); err != nil {
			t.Fatal(err)
		}
	}
	return
}

// The counts kept on the gallery row (schema 10's triggers) follow every way rows come and go:
// adding images with faces, a duplicate refused, deleting an image (its faces by cascade), a
// subject (its images and faces by cascade), and a gallery beside them left alone.
func TestGalleryCountsFollowRows(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, coll, alice := seed(t, d)
		bob := must[engine.Subject](t)(d.CreateSubject(ctx, engine.Subject{GalleryID: ref.ID, Name: "Bob", CreatedAt: now}))
		add := func(g int64, subject *int64, sha string, faces ...engine.NewFace) engine.Image {
			img, _, err := d.AddImage(ctx, engine.Image{GalleryID: g, SubjectID: subject, SHA256: sha, Format: "jpeg", Bytes: 10,
				Width: 10, Height: 10, BlobKey: "images/" + sha, CreatedAt: now, CreatedBy: "analyst"}, faces)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
		check := func(step string) {
			t.Helper()
			for _, id := range []int64{ref.ID, coll.ID} {
				g := must[engine.Gallery](t)(d.Gallery(ctx, id))
				images, faces, subjects := recount(t, d, id)
				if g.Images != images || g.Faces != faces || g.Subjects != subjects {
					t.Errorf("%s: gallery %d counts %d images, %d faces, %d subjects; rows: %d, %d, %d",
						step, id, g.Images, g.Faces, g.Subjects, images, faces, subjects)
				}
			}
		}
		check("seeded")
		a1 := add(ref.ID, &alice.ID, "a1", face(1, 0), face())
		add(ref.ID, &bob.ID, "b1", face(0, 1))
		add(ref.ID, &bob.ID, "b2", face(0.6, 0.8), face(0.8, 0.6), face())
		add(coll.ID, nil, "c1", face(1, 0))
		check("added")
		if g := must[engine.Gallery](t)(d.Gallery(ctx, ref.ID)); g.Images != 3 || g.Faces != 6 || g.Subjects != 2 {
			t.Fatalf("reference gallery counts = %+v, want 3 images, 6 faces, 2 subjects", g)
		}
		if _, _, err := d.AddImage(ctx, engine.Image{GalleryID: ref.ID, SubjectID: &alice.ID, SHA256: "a1", Format: "jpeg", Bytes: 10,
			Width: 10, Height: 10, BlobKey: "images/a1", CreatedAt: now, CreatedBy: "analyst"}, []engine.NewFace{face(1, 0)}); err == nil {
			t.Fatal("duplicate image accepted")
		}
		check("duplicate refused")
		must[engine.Purge](t)(d.DeleteImage(ctx, a1.ID))
		check("image deleted")
		must[engine.Purge](t)(d.DeleteSubject(ctx, bob.ID))
		check("subject deleted")
		if g := must[engine.Gallery](t)(d.Gallery(ctx, ref.ID)); g.Images != 0 || g.Faces != 0 || g.Subjects != 1 {
			t.Fatalf("after deletions: %+v, want 0 images, 0 faces, 1 subject", g)
		}
		gs := must[[]engine.Gallery](t)(d.Galleries(ctx))
		if len(gs) != 2 || gs[1].Images != 1 || gs[1].Faces != 1 {
			t.Fatalf("Galleries = %+v", gs)
		}
	})
}

// A catalog written before schema 10 gets its counts from its rows when it is migrated.
// SQLite only: migrates SQLite files of older versions (PostgreSQL starts at version 10).
func TestGalleryCountsMigrated(t *testing.T) {
	d := openMigrated(t, 9,
		`INSERT INTO galleries (name, kind, model, created_at, created_by) VALUES ('wanted', 'reference', 'm1', '2026', 'a')`,
		`INSERT INTO subjects (gallery_id, name, created_at) VALUES (1, 'Alice', '2026')`,
		`INSERT INTO images (gallery_id, subject_id, sha256, format, bytes, width, height, blob_key, created_at, created_by)
			VALUES (1, 1, 'aa', 'jpeg', 1, 1, 1, 'k1', '2026', 'a'), (1, 1, 'bb', 'jpeg', 1, 1, 1, 'k2', '2026', 'a')`,
		`INSERT INTO faces (image_id, gallery_id, subject_id, box, landmarks, quality) VALUES
			(1, 1, 1, '{}', '[]', '{}'), (1, 1, 1, '{}', '[]', '{}'), (2, 1, 1, '{}', '[]', '{}')`)
	g := must[engine.Gallery](t)(d.Gallery(context.Background(), 1))
	if g.Images != 2 || g.Faces != 3 || g.Subjects != 1 {
		t.Fatalf("migrated counts = %+v, want 2 images, 3 faces, 1 subject", g)
	}
	must[engine.Purge](t)(d.DeleteImage(context.Background(), 1))
	if g := must[engine.Gallery](t)(d.Gallery(context.Background(), 1)); g.Images != 1 || g.Faces != 1 {
		t.Fatalf("after a deletion: %+v, want 1 image, 1 face", g)
	}
}
