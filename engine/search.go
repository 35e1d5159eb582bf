package engine

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/index"
)

// SearchRequest is an analyst's search: a probe photo against galleries, for a stated purpose.
type SearchRequest struct {
	Galleries []int64
	Purpose   string // required: why, or the case reference
	K         int    // candidates per probe face (default 20)
	MinSim    float32
	Data      []byte
	// Source is the probe photo's ad metadata (optional); its case reference files the
	// resulting matches under that case in the review queue.
	Source Source
}

// CandidateView is one candidate of one probe face.
type CandidateView struct {
	FaceID     int64   `json:"face_id"`
	GalleryID  int64   `json:"gallery_id"`
	SubjectID  *int64  `json:"subject_id,omitempty"`
	ImageID    int64   `json:"image_id"`
	Similarity float32 `json:"similarity"`
	Band       string  `json:"band"`
	Rank       int     `json:"rank"`
	MatchID    int64   `json:"match_id"`
}

// ProbeResult is one face of the probe photo and its ranked candidates.
type ProbeResult struct {
	Face       ProbeFace       `json:"face"`
	Candidates []CandidateView `json:"candidates"`
}

// SearchResult is a search's record and what it found.
type SearchResult struct {
	Search SearchRecord  `json:"search"`
	Faces  []ProbeResult `json:"faces"`
}

// Search finds, for every face of the probe photo, the most similar faces of the galleries
// (each gallery searched with its own model's embedding of the probe), records the search and
// a pending match per candidate, and audits it.
func (s *Service) Search(ctx context.Context, a Actor, req SearchRequest) (SearchResult, error) {
	// Everything is checked before anything is stored (the probe photo included).
	var err error
	if req.Purpose, err = CleanText("purpose", req.Purpose, MaxPurposeLen, false); err != nil {
		return SearchResult{}, err
	}
	if req.Purpose == "" {
		return SearchResult{}, fmt.Errorf("purpose is required (the reason for the search or a case reference): %w", ErrInvalid)
	}
	if req.Galleries, err = DistinctIDs("galleries", req.Galleries, MaxGalleries); err != nil {
		return SearchResult{}, err
	}
	if len(req.Galleries) == 0 {
		return SearchResult{}, fmt.Errorf("galleries is required: %w", ErrInvalid)
	}
	if req.Source, err = CleanSource(req.Source); err != nil {
		return SearchResult{}, err
	}
	if req.K == 0 {
		req.K = 20
	}
	if req.K < 1 || req.K > s.cfg.MaxK {
		return SearchResult{}, fmt.Errorf("k must be in [1, %d], got %d: %w", s.cfg.MaxK, req.K, ErrInvalid)
	}
	if !(req.MinSim >= -1 && req.MinSim <= 1) { // NaN too
		return SearchResult{}, fmt.Errorf("min_similarity must be in [-1, 1], got %g: %w", req.MinSim, ErrInvalid)
	}
	// Group galleries by model: each model embeds the probe once.
	byModel := map[string][]int64{}
	var models []string
	for _, id := range req.Galleries {
		if err := checkGallery(a, id); err != nil {
			return SearchResult{}, err
		}
		g, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return SearchResult{}, err
		}
		if _, ok := s.byIdentity[g.Model]; !ok {
			return SearchResult{}, fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
		}
		if byModel[g.Model] == nil {
			models = append(models, g.Model)
		}
		byModel[g.Model] = append(byModel[g.Model], g.ID)
	}
	sort.Strings(models)

	// Detection is the same for every model (one detector): run it once with the first
	// model's pipeline, then embed the accepted faces with each model.
	ph, release, err := s.analyzePhoto(ctx, s.byIdentity[models[0]], req.Data, false)
	if err != nil {
		return SearchResult{}, fmt.Errorf("probe: %w", err)
	}
	defer release()
	img, faces, sha := ph.img, ph.faces, ph.sha
	now := time.Now()
	// A key of its own, as for a stored photo (see newImage), however alike two searches are.
	probeKey := fmt.Sprintf("searches/%s-%s-%s/probe", now.UTC().Format("20060102T150405.000000000"), sha[:16], nonce())
	// Until the search is recorded, its blobs are deleted when it fails (a failed record is
	// left to the sweeper: it may have been written).
	var stored []string
	recording := false
	defer func() {
		if !recording {
			s.deleteBlobs(ctx, stored)
		}
	}()
	probes := make([]ProbeFace, len(faces))
	for i, f := range faces {
		th, err := thumbnail(img, boxOf(f))
		if err != nil {
			return SearchResult{}, err
		}
		probes[i] = ProbeFace{Box: boxOf(f), Quality: f.Quality, Rejections: f.Rejected,
			ThumbKey: fmt.Sprintf("%s-face-%d.jpg", strings.TrimSuffix(probeKey, "/probe")+"/face", i)}
		stored = append(stored, probes[i].ThumbKey)
		if err := s.cfg.Blobs.Put(ctx, probes[i].ThumbKey, bytes.NewReader(th), int64(len(th))); err != nil {
			return SearchResult{}, fmt.Errorf("service: store probe thumbnail: %w", err)
		}
	}
	stored = append(stored, probeKey)
	if err := s.cfg.Blobs.Put(ctx, probeKey, bytes.NewReader(req.Data), int64(len(req.Data))); err != nil {
		return SearchResult{}, fmt.Errorf("service: store probe: %w", err)
	}

	var cands []Candidate
	for _, model := range models {
		p := s.byIdentity[model]
		embedded := faces
		if model != models[0] || !allEmbeddedWith(faces, model) {
			if embedded, err = p.AnalyzeImage(ctx, img); err != nil {
				return SearchResult{}, err
			}
		}
		for i, f := range embedded {
			if i >= len(faces) || !faces[i].Accepted() || f.Embedding == nil {
				continue
			}
			hits, err := s.cfg.Indexes[model].Search(ctx, model, f.Embedding.Vector, req.K, index.Filter{Galleries: toU64(byModel[model])})
			if err != nil {
				return SearchResult{}, fmt.Errorf("service: search %s: %w", model, err)
			}
			for _, h := range hits {
				if h.Similarity < req.MinSim {
					continue
				}
				cands = append(cands, Candidate{ProbeIndex: i, FaceID: int64(h.ID), Similarity: h.Similarity})
			}
		}
	}
	release() // the pixels are no longer used
	// Rank per probe face across models and galleries, best first.
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].ProbeIndex != cands[j].ProbeIndex {
			return cands[i].ProbeIndex < cands[j].ProbeIndex
		}
		return cands[i].Similarity > cands[j].Similarity
	})
	kept := cands[:0]
	rank := map[int]int{}
	for _, c := range cands {
		if rank[c.ProbeIndex] >= req.K {
			continue
		}
		rank[c.ProbeIndex]++
		c.Rank = rank[c.ProbeIndex]
		kept = append(kept, c)
	}
	rec := SearchRecord{Actor: a.Person(), Purpose: req.Purpose, Galleries: req.Galleries, K: req.K, MinSim: req.MinSim,
		ProbeSHA256: sha, ProbeKey: probeKey, Source: req.Source, CreatedAt: now}
	recording = true
	var matches []Match
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		if rec, probes, matches, err = c.RecordSearch(ctx, rec, probes, kept); err != nil {
			return AuditEntry{}, err
		}
		matchIDs := make([]string, len(matches))
		for i, m := range matches {
			matchIDs[i] = strconv.FormatInt(m.ID, 10)
		}
		return entry(a, "search.create", ref("search", rec.ID), req.Galleries,
			fmt.Sprintf("probe_sha256=%s purpose=%q case_ref=%q k=%d min_similarity=%g", sha, req.Purpose, req.Source.CaseRef, req.K, req.MinSim),
			fmt.Sprintf("faces=%d matches=[%s]", len(probes), strings.Join(matchIDs, ","))), nil
	})
	if err != nil {
		return SearchResult{}, err
	}
	out := SearchResult{Search: rec, Faces: make([]ProbeResult, len(probes))}
	for i, p := range probes {
		out.Faces[i] = ProbeResult{Face: p, Candidates: []CandidateView{}}
	}
	byProbe := map[int64]int{}
	for i, p := range probes {
		byProbe[p.ID] = i
	}
	for _, m := range matches {
		i := byProbe[m.ProbeFaceID]
		out.Faces[i].Candidates = append(out.Faces[i].Candidates, CandidateView{FaceID: m.FaceID, GalleryID: m.GalleryID,
			SubjectID: m.SubjectID, ImageID: m.ImageID, Similarity: m.Similarity, Band: BandOf(m.Model, m.Similarity).Name,
			Rank: m.Rank, MatchID: m.ID})
	}
	return out, nil
}

func allEmbeddedWith(faces []Face, model string) bool {
	for _, f := range faces {
		if f.Accepted() && (f.Embedding == nil || f.Embedding.Model != model) {
			return false
		}
	}
	return true
}

func toU64(ids []int64) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}
