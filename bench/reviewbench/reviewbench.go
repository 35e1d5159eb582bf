// Package reviewbench counts the review items a batch of searches puts in front of reviewers
// (`facematch bench review`): a reference gallery enrolled from folders of identities, every
// probe photo searched, then the same searches again. It compares the service's rule (items only
// at or above each gallery's operating threshold, none made twice for the same photo) with the
// rule before issue 14 (every top-k candidate of every search an item), computed from the same
// searches' candidates. bench/RESULTS.md quotes it.
package reviewbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/bench/sets"
	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/app"
)

// Result is what `facematch bench review` counts.
type Result struct {
	Recognizer string  `json:"recognizer"`
	Subjects   int     `json:"subjects"`
	Photos     int     `json:"gallery_photos"`
	Threshold  float32 `json:"threshold"`
	Meaning    string  `json:"threshold_meaning"`
	K          int     `json:"k"`
	Searches   int     `json:"searches"` // per round
	Mated      int     `json:"mated_searches"`
	Strangers  int     `json:"stranger_searches"`
	Candidates int     `json:"candidates"` // shown in the first round
	// BeforeItems is what the rule before issue 14 makes of both rounds' candidate lists:
	// every candidate an item, again on the second round (before issue 14 the lists were also
	// per face, not per subject, so it made more still: bench/RESULTS.md). Items is what the
	// service made (first round, then both); ItemsByBand splits the latter by band.
	BeforeItems       int            `json:"before_items"`
	BeforeLowBand     int            `json:"before_low_band_items"`
	ItemsFirstRound   int            `json:"items_first_round"`
	Items             int            `json:"items"`
	ItemsByBand       map[string]int `json:"items_by_band"`
	MatesFound        int            `json:"mates_found"`         // mated searches whose mate is an item
	StrangersWithItem int            `json:"strangers_with_item"` // stranger searches that made any item
}

// Config is what Run counts.
type Config struct {
	Gallery string // one folder of photos per identity, enrolled as subjects
	Probes  string // one folder of photos per identity; identities missing from Gallery are strangers
	K       int
	Logf    func(format string, args ...any)
}

// Run enrols Gallery into a fresh reference gallery of a, searches every probe twice and
// counts.
func Run(ctx context.Context, a *app.App, cfg Config) (Result, error) {
	res := Result{K: cfg.K, ItemsByBand: map[string]int{}}
	bench := engine.Actor{Name: "bench", Role: engine.RoleAnalyst}
	g, err := a.Service.CreateGallery(ctx, engine.Actor{Name: "bench", Role: engine.RoleAdmin}, "bench-review", engine.Reference, "")
	if err != nil {
		return res, err
	}
	res.Recognizer = g.Model
	enrolled := map[string]bool{}
	gallery, err := sets.Identities(cfg.Gallery)
	if err != nil {
		return res, err
	}
	for _, id := range gallery {
		s, err := a.Service.CreateSubject(ctx, bench, engine.Subject{GalleryID: g.ID, Name: id.Name})
		if err != nil {
			return res, err
		}
		for _, f := range id.Files {
			data, err := os.ReadFile(filepath.Join(cfg.Gallery, f))
			if err != nil {
				return res, err
			}
			if _, err := a.Service.AddImage(ctx, bench, engine.Upload{GalleryID: g.ID, SubjectID: &s.ID, Data: data}); err != nil {
				cfg.Logf("enrol %s: %v (skipped)", f, err)
				continue
			}
			res.Photos++
			enrolled[id.Name] = true
		}
	}
	res.Subjects = len(enrolled)
	probes, err := sets.Identities(cfg.Probes)
	if err != nil {
		return res, err
	}
	count := func() (int, error) { return a.Catalog.CountMatches(ctx, engine.MatchFilter{}) }
	for round := 1; round <= 2; round++ {
		for _, id := range probes {
			for _, f := range id.Files {
				data, err := os.ReadFile(filepath.Join(cfg.Probes, f))
				if err != nil {
					return res, err
				}
				sr, err := a.Service.Search(ctx, bench, engine.SearchRequest{Galleries: []int64{g.ID}, Purpose: "bench review", K: cfg.K, MinSim: -1, Data: data})
				if errors.Is(err, engine.ErrNoFace) {
					cfg.Logf("search %s: no face (skipped)", f)
					continue
				}
				if err != nil {
					return res, fmt.Errorf("search %s: %w", f, err)
				}
				if len(sr.Galleries) == 1 && sr.Galleries[0].Threshold != nil {
					res.Threshold, res.Meaning = *sr.Galleries[0].Threshold, sr.Galleries[0].Meaning
				}
				mateFound, anyItem := false, false
				for _, face := range sr.Faces {
					for _, c := range face.Candidates {
						res.BeforeItems++
						if c.Band == "low" {
							res.BeforeLowBand++
						}
						if round == 1 {
							res.Candidates++
						}
						if c.MatchID == 0 {
							continue
						}
						anyItem = true
						if c.SubjectName == id.Name {
							mateFound = true
						}
					}
				}
				if round > 1 {
					continue
				}
				res.Searches++
				if enrolled[id.Name] {
					res.Mated++
					if mateFound {
						res.MatesFound++
					}
				} else {
					res.Strangers++
					if anyItem {
						res.StrangersWithItem++
					}
				}
			}
		}
		n, err := count()
		if err != nil {
			return res, err
		}
		if round == 1 {
			res.ItemsFirstRound = n
		}
		res.Items = n
	}
	for f := (engine.MatchFilter{Limit: 500}); ; {
		ms, err := a.Catalog.Matches(ctx, f)
		if err != nil {
			return res, err
		}
		for _, m := range ms {
			res.ItemsByBand[engine.BandFor(m.Model, m.Minors, m.Similarity).Name]++
		}
		if len(ms) < f.Limit {
			return res, nil
		}
		f.Cursor = ms[len(ms)-1].ID
	}
}
