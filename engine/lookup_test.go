package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestLookup: a phone written any way, a username in any case (with its site or not), a URL
// and an ad ID find the photos whose ads carry them, in the asker's galleries only; each
// look-up is audited; a deleted photo is found no more.
func TestLookup(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ads, err := f.svc.CreateGallery(ctx, admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	add := func(person int, src engine.Source) int64 {
		t.Helper()
		e, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: ads.ID, Data: facetest.Photo(person, 1), Source: src})
		if err != nil {
			t.Fatal(err)
		}
		return e.Image.ID
	}
	kitty := add(73, engine.Source{Site: "ads.example", Usernames: []string{"Kitty_K"}, Phones: []string{"+49 151 2345 6789"},
		URL: "https://ads.example/ad/4711", AdID: "4711"})
	other := add(146, engine.Source{Site: "other.example", Usernames: []string{"kitty_k"}, Phones: []string{"+49 170 1111111"}})
	for _, tc := range []struct {
		name string
		q    engine.LookupQuery
		want []int64
	}{
		{"phone written nationally with the 00 prefix", engine.LookupQuery{Phone: "0049 (151) 2345-6789"}, []int64{kitty}},
		{"username in any case, any site", engine.LookupQuery{Username: "KITTY_k"}, []int64{other, kitty}},
		{"username on one site", engine.LookupQuery{Username: "kitty_K", Site: "ADS.example"}, []int64{kitty}},
		{"username on a site without it", engine.LookupQuery{Username: "kitty_k", Site: "third.example"}, nil},
		{"url", engine.LookupQuery{URL: "https://ads.example/ad/4711"}, []int64{kitty}},
		{"ad id", engine.LookupQuery{AdID: "4711"}, []int64{kitty}},
	} {
		res, err := f.svc.Lookup(ctx, analyst, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []int64
		for _, img := range res.Images {
			got = append(got, img.ID)
		}
		if len(got) != len(tc.want) || len(got) > 0 && (got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1]) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := f.svc.Lookup(ctx, analyst, engine.LookupQuery{}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("nothing to look up: %v", err)
	}
	scoped := engine.Actor{Name: "sam", Role: engine.RoleAnalyst, Galleries: []int64{ads.ID + 100}}
	if res, err := f.svc.Lookup(ctx, scoped, engine.LookupQuery{AdID: "4711"}); err != nil || len(res.Images) != 0 {
		t.Errorf("a credential without the gallery: %+v, %v", res, err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "contact.lookup", Limit: 20})
	if err != nil || len(es) != 7 || !strings.Contains(es[len(es)-1].Input, "phone=+4915123456789") {
		t.Errorf("look-ups audited: %d, %v", len(es), err)
	}
	if err := f.svc.DeleteImage(ctx, admin, kitty); err != nil {
		t.Fatal(err)
	}
	if res, err := f.svc.Lookup(ctx, analyst, engine.LookupQuery{AdID: "4711"}); err != nil || len(res.Images) != 0 {
		t.Errorf("after deleting the photo: %+v, %v", res, err)
	}
}
