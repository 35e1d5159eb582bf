package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestClusterPersons: a collection's faces become suggested persons: one person's photos
// together with the contact details of their ads, two faces of one photo never in one person,
// a stranger alone; reading a person is audited; a person goes with its last photo.
func TestClusterPersons(t *testing.T) {
	ctx := t.Context()
	// A tighter fake (two photos of one person near 0.96), clear of the clustering line 0.88.
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	add := func(data []byte, src engine.Source) int64 {
		t.Helper()
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: data, Source: src})
		if err != nil {
			t.Fatal(err)
		}
		return e.Image.ID
	}
	kitty := engine.Source{Site: "ads.example", Usernames: []string{"kitty_k"}, Phones: []string{"+49 151 2345 6789"}}
	for v := 1; v <= 3; v++ {
		add(facetest.Photo(73, v), kitty)
	}
	var bobPhotos []int64
	for v := 1; v <= 2; v++ {
		bobPhotos = append(bobPhotos, add(facetest.Photo(146, v), engine.Source{Site: "other.example", Phones: []string{"+49 170 1111111"}}))
	}
	add(facetest.Photo(300, 1), engine.Source{})
	add(facetest.Group(4, 73, 73), kitty) // the same person twice in one photo (a mirror selfie)

	if _, err := f.svc.ClusterGallery(ctx, admin, f.referenceGallery(t, "wanted", 400)); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("clustering a reference gallery: %v", err)
	}
	rep, err := f.svc.ClusterGallery(ctx, admin, ads.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Faces != 8 || rep.Persons != 2 || rep.Singletons != 2 {
		t.Fatalf("report: %+v, want 8 faces in 2 persons and 2 alone (the stranger, the second face of the group photo)", rep)
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 2 || ps[0].Size != 4 || ps[1].Size != 2 {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	kittyPerson := ps[0]
	var phone *engine.ContactCount
	for i, c := range kittyPerson.Contacts {
		if c.Kind == engine.ContactPhone {
			phone = &kittyPerson.Contacts[i]
		}
	}
	if phone == nil || phone.Value != "+4915123456789" || phone.Photos != 4 || kittyPerson.Cohesion < 0.9 || kittyPerson.Representative == 0 {
		t.Errorf("the first person: %+v", kittyPerson)
	}
	one, err := f.svc.PersonByID(ctx, reviewer, kittyPerson.ID)
	if err != nil || len(one.Faces) != 4 || one.Size != 4 {
		t.Fatalf("person %d: %+v, %v", kittyPerson.ID, one, err)
	}
	images := map[int64]bool{}
	for _, face := range one.Faces {
		if images[face.ImageID] {
			t.Errorf("two faces of photo %d in one person", face.ImageID)
		}
		images[face.ImageID] = true
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "person.read", Limit: 5})
	if err != nil || len(es) != 1 {
		t.Errorf("person reads audited: %+v, %v", es, err)
	}
	if _, err := f.svc.Persons(ctx, engine.Actor{Name: "sam", Role: engine.RoleAnalyst, Galleries: []int64{ads.ID + 50}}, ads.ID, engine.PersonQuery{}); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("a credential without the gallery: %v", err)
	}
	if _, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{Order: "alphabetical"}); err == nil || !strings.Contains(err.Error(), "order must be") {
		t.Errorf("a bad order: %v", err)
	}
	// Bob's photos deleted: his person goes with the last of them.
	for _, id := range bobPhotos {
		if err := f.svc.DeleteImage(ctx, admin, id); err != nil {
			t.Fatal(err)
		}
	}
	if ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{}); err != nil || len(ps) != 1 {
		t.Errorf("persons after deleting Bob's photos: %+v, %v", ps, err)
	}
	if _, err := f.svc.PersonByID(ctx, analyst, ps[1].ID); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Bob's person after his photos went: %v", err)
	}
}

// TestPersonLinks: a person is linked to the person whose ads share its phone, and to the
// person in another collection whose photo is one of its photos reposted; a person with
// nothing in common is not linked.
func TestPersonLinks(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	more, err := f.svc.CreateGallery(ctx, admin, "more ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	add := func(g int64, data []byte, src engine.Source) {
		t.Helper()
		if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: g, Data: data, Source: src}); err != nil {
			t.Fatal(err)
		}
	}
	shared := engine.Source{Phones: []string{"+49 151 2345 6789"}}
	for v := 1; v <= 2; v++ {
		add(ads.ID, facetest.Photo(73, v), shared)                                                  // Ann, with the phone
		add(ads.ID, facetest.Photo(146, v), shared)                                                 // Bea, with the same phone
		add(ads.ID, facetest.Photo(292, v), engine.Source{Phones: []string{"+49 170 1111111"}})     // Cai, alone
		add(more.ID, facetest.PhotoJPEG(73, v), engine.Source{Usernames: []string{"someone_else"}}) // Ann's photos reposted elsewhere
	}
	for _, g := range []int64{ads.ID, more.ID} {
		if _, err := f.svc.ClusterGallery(ctx, admin, g); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 3 {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	elsewhere, err := f.svc.Persons(ctx, analyst, more.ID, engine.PersonQuery{})
	if err != nil || len(elsewhere) != 1 {
		t.Fatalf("persons of the other collection: %+v, %v", elsewhere, err)
	}
	var ann engine.Person
	for _, p := range ps {
		one, err := f.svc.PersonByID(ctx, analyst, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Links) == 2 {
			ann = one
		}
	}
	if ann.ID == 0 {
		t.Fatalf("no person with two links (the phone and the reposts): %+v", ps)
	}
	var viaPhone, viaRepost bool
	for _, l := range ann.Links {
		if len(l.Contacts) == 1 && l.Contacts[0].Value == "+4915123456789" && l.GalleryID == ads.ID {
			viaPhone = true
		}
		if len(l.Reposts) == 2 && l.ID == elsewhere[0].ID {
			viaRepost = true
		}
	}
	if !viaPhone || !viaRepost {
		t.Errorf("Ann's links: %+v, want Bea by the phone and the other collection's person by two reposts", ann.Links)
	}
}

// TestReviewersShapePersons: a reviewer confirms a person (it keeps its members through a new
// clustering), takes a face out of it (for good), and merges two persons of one gallery; a merge
// that would put two faces of one photo together is refused; each action is audited.
func TestReviewersShapePersons(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 3; v++ {
		for _, person := range []int{73, 146} {
			if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(person, v)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	group, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Group(9, 73, 146)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 2 || ps[0].Size != 4 || ps[1].Size != 4 {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	a, b := ps[0], ps[1]
	if _, err := f.svc.MergePersons(ctx, reviewer, a.ID, b.ID, "same hair", false); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "two faces of one photo") {
		t.Errorf("merging persons that share the group photo: %v", err)
	}
	full, err := f.svc.PersonByID(ctx, reviewer, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var removed int64 // the group photo's face: the reviewer finds it is not this person
	for _, face := range full.Faces {
		if face.ImageID == group.Image.ID {
			removed = face.FaceID
		}
	}
	if removed == 0 {
		t.Fatalf("person %d has no face of the group photo: %+v", a.ID, full.Faces)
	}
	if p, err := f.svc.RemoveFaceFromPerson(ctx, reviewer, a.ID, removed, "another woman: different ear"); err != nil || p.Size != 3 {
		t.Fatalf("removing a face: %+v, %v", p, err)
	}
	if _, err := f.svc.RemoveFaceFromPerson(ctx, reviewer, a.ID, removed, "again"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("removing it twice: %v", err)
	}
	if p, err := f.svc.ConfirmPerson(ctx, reviewer, a.ID, "same tattoo on every photo"); err != nil || p.ConfirmedBy != "rev1" || p.ConfirmedAt == nil {
		t.Fatalf("confirming: %+v, %v", p, err)
	}
	// Clustered again: the confirmed person keeps its three faces, the removed face stays out.
	if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
		t.Fatal(err)
	}
	kept, err := f.svc.PersonByID(ctx, reviewer, a.ID)
	if err != nil || kept.Size != 3 || kept.ConfirmedBy != "rev1" {
		t.Fatalf("the confirmed person after clustering again: %+v, %v", kept, err)
	}
	for _, face := range kept.Faces {
		if face.FaceID == removed {
			t.Errorf("the removed face is back in the confirmed person")
		}
	}
	// The other person, clustered anew, merges into the confirmed one once the conflict is gone.
	ps, _ = f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	var other engine.Person
	for _, p := range ps {
		if p.ID != a.ID {
			other = p
		}
	}
	if other.ID == 0 {
		t.Fatalf("no other person: %+v", ps)
	}
	merged, err := f.svc.MergePersons(ctx, reviewer, a.ID, other.ID, "one person after all", false)
	if err != nil || merged.Size != 3+other.Size {
		t.Fatalf("merging once the group photo is no longer in both: %+v, %v; want %d faces", merged, err, 3+other.Size)
	}
	if _, err := f.svc.PersonByID(ctx, reviewer, other.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the merged-away person: %v", err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "person.remove_face", Limit: 5})
	if err != nil || len(es) != 1 || !strings.Contains(es[0].Input, "different ear") {
		t.Errorf("removal audited: %+v, %v", es, err)
	}
	if _, err := f.svc.MergePersons(ctx, reviewer, a.ID, a.ID, "", false); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("merging a person with itself: %v", err)
	}
}

// TestSearchPerson: a person of three ad photos searched against a reference gallery makes one
// review item for its subject, not three; searched again, none; other subjects below the line
// stay candidates only; the search is audited.
func TestSearchPerson(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{Spread: 0.2}})
	ref := f.referenceGallery(t, "wanted", 73, 146, 292)
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	for v := 2; v <= 4; v++ {
		if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(73, v)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.ClusterGallery(ctx, admin, ads.ID); err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{})
	if err != nil || len(ps) != 1 || ps[0].Size != 3 {
		t.Fatalf("persons: %+v, %v", ps, err)
	}
	req := engine.PersonSearchRequest{Galleries: []int64{ref}, Purpose: "case 9"}
	res, err := f.svc.SearchPerson(ctx, analyst, ps[0].ID, req)
	if err != nil {
		t.Fatal(err)
	}
	var items, cands int
	for _, face := range res.Faces {
		for _, c := range face.Candidates {
			cands++
			if c.MatchID != 0 {
				items++
				if c.SubjectName != "person 73" {
					t.Errorf("an item for %s", c.SubjectName)
				}
			}
		}
	}
	if len(res.Faces) != 3 || items != 1 || cands != 3 {
		t.Fatalf("person search: %d probe faces, %d candidates, %d items; want 3, one per subject, 1", len(res.Faces), cands, items)
	}
	if n, _ := f.cat.CountMatches(ctx, engine.MatchFilter{}); n != 1 {
		t.Errorf("%d review items, want 1", n)
	}
	if _, err := f.svc.SearchPerson(ctx, analyst, ps[0].ID, req); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.cat.CountMatches(ctx, engine.MatchFilter{}); n != 1 {
		t.Errorf("%d review items after searching the person again, want 1", n)
	}
	// The persons list tells the item and its similarity, and orders by it.
	if ps, err := f.svc.Persons(ctx, analyst, ads.ID, engine.PersonQuery{Order: engine.PersonsByScore}); err != nil || len(ps) != 1 || ps[0].CrossMatch == nil ||
		ps[0].CrossMatch.Items != 1 || ps[0].CrossMatch.Similarity < 0.5 {
		t.Errorf("persons by cross-match score: %+v, %v", ps, err)
	}
	if _, err := f.svc.SearchPerson(ctx, analyst, ps[0].ID, engine.PersonSearchRequest{Galleries: []int64{ads.ID}, Purpose: "x"}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("searching a collection: %v", err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "person.search", Limit: 5})
	if err != nil || len(es) != 2 || !strings.Contains(es[1].Result, "items=1") {
		t.Errorf("person searches audited: %+v, %v", es, err)
	}
}
