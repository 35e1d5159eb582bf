package catalog

import (
	"context"
	"fmt"
	"testing"

	"github.com/facematch/facematch/engine"
)

// TestPossibleMinorsFirst: a probe face's apparent age is kept with it; the queue filters on
// its flag and, in the minors order, lists flagged probes' items first, each part most similar
// first, across pages.
func TestPossibleMinorsFirst(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		ref, _, alice := seed(t, d)
		faces := subjectFaces(t, d, ref, alice, 1)
		type probe struct {
			sim   float32
			age   *engine.ApparentAge
			noAge string
		}
		minor := &engine.ApparentAge{Years: 16, Low: 12, High: 21, Model: "age@1", PossibleMinor: true, MinorLine: 25}
		adult := &engine.ApparentAge{Years: 34, Low: 28, High: 41, Model: "age@1", MinorLine: 25}
		probes := []probe{{0.90, adult, ""}, {0.85, minor, ""}, {0.95, nil, engine.NoAgeProfile}, {0.80, minor, ""}, {0.88, adult, ""}}
		for i, p := range probes {
			_, _, _, err := d.RecordSearch(ctx, engine.SearchRecord{Actor: "ann", Purpose: "p", Galleries: []int64{ref.ID}, K: 1, ProbeSHA256: fmt.Sprint("photo-", i), CreatedAt: now},
				[]engine.ProbeFace{{Age: p.age, NoAge: p.noAge}}, []engine.Candidate{{FaceID: faces[0], GalleryID: ref.ID, Similarity: p.sim, Rank: 1, Review: true}})
			if err != nil {
				t.Fatal(err)
			}
		}
		sims := func(ms []engine.Match) []float32 {
			var out []float32
			for _, m := range ms {
				out = append(out, m.Similarity)
			}
			return out
		}
		var got []float32
		f := engine.MatchFilter{Order: engine.MinorsFirst, Limit: 2}
		for {
			page := must[[]engine.Match](t)(d.Matches(ctx, f))
			got = append(got, sims(page)...)
			if len(page) < f.Limit {
				break
			}
			last := page[len(page)-1]
			f.Cursor, f.CursorSim, f.CursorMinor = last.ID, last.Similarity, last.PossibleMinor
		}
		if fmt.Sprint(got) != "[0.85 0.8 0.95 0.9 0.88]" {
			t.Errorf("minors first, in pages of 2: %v, want [0.85 0.8 0.95 0.9 0.88]", got)
		}
		yes, no := true, false
		flagged := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{PossibleMinor: &yes, Order: engine.MostSimilarFirst}))
		if fmt.Sprint(sims(flagged)) != "[0.85 0.8]" || !flagged[0].PossibleMinor || flagged[0].ProbeAge == nil || *flagged[0].ProbeAge != *minor {
			t.Errorf("possible minors only: %+v", flagged)
		}
		if n := must[int](t)(d.CountMatches(ctx, engine.MatchFilter{PossibleMinor: &no})); n != 3 {
			t.Errorf("%d items of other probes, want 3", n)
		}
		p := must[engine.ProbeFace](t)(d.ProbeFace(ctx, flagged[0].ProbeFaceID))
		if p.Age == nil || *p.Age != *minor {
			t.Errorf("probe face's age %+v, want %+v", p.Age, minor)
		}
		all := must[[]engine.Match](t)(d.Matches(ctx, engine.MatchFilter{Order: engine.MostSimilarFirst}))
		if q := must[engine.ProbeFace](t)(d.ProbeFace(ctx, all[0].ProbeFaceID)); q.Age != nil || q.NoAge != engine.NoAgeProfile {
			t.Errorf("a profile's probe: age %+v, reason %q", q.Age, q.NoAge)
		}
	})
}
