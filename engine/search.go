package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
// a pending match per candidate, and audits it. Everything is checked before anything is
// stored (the probe photo included).
func (s *Service) Search(ctx context.Context, a Actor, req SearchRequest) (SearchResult, error) {
	res, err := s.search(ctx, a, req)
	if clientMistake(err) {
		s.AuditRefusedSearch(ctx, a, req.Data, req.Galleries, err)
	}
	return res, err
}

// clientMistake reports whether err refuses a request for what it asked (a 4xx), not for the
// service's state.
func clientMistake(err error) bool {
	for _, kind := range []error{ErrInvalid, ErrNoFace, ErrUnsupported, ErrMalformed, ErrTooLarge, ErrForbidden, ErrNotFound} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// maxRefusalLen bounds the reason kept in a refusal's audit entry: the messages quote the
// client's input, which is not the audit log's to store at any length.
const maxRefusalLen = 300

// AuditRefusedSearch records a search refused before it ran (a photo that is not one, no face,
// no purpose, a gallery out of scope, a malformed form the API caught): who tried to search
// what, by the photo's hash. The entry is written outside any transaction; a failure to write
// it is logged.
func (s *Service) AuditRefusedSearch(ctx context.Context, a Actor, photo []byte, galleries []int64, why error) {
	input := "no photo"
	if len(photo) > 0 {
		sum := sha256.Sum256(photo)
		input = "sha256=" + hex.EncodeToString(sum[:])
	}
	reason := why.Error()
	if len(reason) > maxRefusalLen {
		reason = strings.ToValidUTF8(reason[:maxRefusalLen], "") + "…"
	}
	s.auditRefusal(context.WithoutCancel(ctx), entry(a, "search.refused", "", galleries, input, reason))
}

func (s *Service) search(ctx context.Context, a Actor, req SearchRequest) (SearchResult, error) {
	req, err := s.checkSearch(req)
	if err != nil {
		return SearchResult{}, err
	}
	byModel, models, err := s.galleriesByModel(ctx, a, req.Galleries)
	if err != nil {
		return SearchResult{}, err
	}
	// Detection is the same for every model (one detector): run it once with the first
	// model's pipeline, then embed the accepted faces with each model.
	ph, release, err := s.analyzePhoto(ctx, s.byIdentity[models[0]], req.Data, false)
	if err != nil {
		return SearchResult{}, fmt.Errorf("probe: %w", err)
	}
	defer release()
	now := time.Now()
	probeKey, probes, stored, err := s.storeProbe(ctx, ph, req.Data, now)
	// Until the search is recorded, its blobs are deleted when it fails (a failed record is
	// left to the sweeper: it may have been written).
	recording := false
	defer func() {
		if !recording {
			s.deleteBlobs(ctx, stored)
		}
	}()
	if err != nil {
		return SearchResult{}, err
	}
	cands, err := s.candidates(ctx, ph, models, byModel, req)
	if err != nil {
		return SearchResult{}, err
	}
	release() // the pixels are no longer used
	rec := SearchRecord{Actor: a.Person(), Purpose: req.Purpose, Galleries: req.Galleries, K: req.K, MinSim: req.MinSim,
		ProbeSHA256: ph.sha, ProbeKey: probeKey, Source: req.Source, CreatedAt: now}
	recording = true
	rec, probes, matches, err := s.recordSearch(ctx, a, rec, probes, rankPerProbe(cands, req.K))
	if err != nil {
		return SearchResult{}, err
	}
	return searchResult(rec, probes, matches), nil
}

// checkSearch checks and normalises a search request (defaults filled in).
func (s *Service) checkSearch(req SearchRequest) (SearchRequest, error) {
	var err error
	if req.Purpose, err = CleanText("purpose", req.Purpose, MaxPurposeLen, false); err != nil {
		return req, err
	}
	if req.Purpose == "" {
		return req, fmt.Errorf("purpose is required (the reason for the search or a case reference): %w", ErrInvalid)
	}
	if req.Galleries, err = DistinctIDs("galleries", req.Galleries, MaxGalleries); err != nil {
		return req, err
	}
	if len(req.Galleries) == 0 {
		return req, fmt.Errorf("galleries is required: %w", ErrInvalid)
	}
	if req.Source, err = CleanSource(req.Source); err != nil {
		return req, err
	}
	if req.K == 0 {
		req.K = 20
	}
	if req.K < 1 || req.K > s.cfg.MaxK {
		return req, fmt.Errorf("k must be in [1, %d], got %d: %w", s.cfg.MaxK, req.K, ErrInvalid)
	}
	if !(req.MinSim >= -1 && req.MinSim <= 1) { // NaN too
		return req, fmt.Errorf("min_similarity must be in [-1, 1], got %g: %w", req.MinSim, ErrInvalid)
	}
	return req, nil
}

// galleriesByModel groups the galleries a searches by their model (each model embeds the probe
// once) and returns the models in a fixed order.
func (s *Service) galleriesByModel(ctx context.Context, a Actor, galleries []int64) (map[string][]int64, []string, error) {
	byModel := map[string][]int64{}
	var models []string
	for _, id := range galleries {
		if err := checkGallery(a, id); err != nil {
			return nil, nil, err
		}
		g, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := s.byIdentity[g.Model]; !ok {
			return nil, nil, fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
		}
		if byModel[g.Model] == nil {
			models = append(models, g.Model)
		}
		byModel[g.Model] = append(byModel[g.Model], g.ID)
	}
	sort.Strings(models)
	return byModel, models, nil
}

// storeProbe stores the probe photo and its face thumbnails for the reviewers, under keys of
// their own (as for a stored photo, see newImage), and returns the probe's key, its faces and
// every key it stored (on an error too, so that the caller can delete them).
func (s *Service) storeProbe(ctx context.Context, ph photo, data []byte, now time.Time) (string, []ProbeFace, []string, error) {
	probeKey := fmt.Sprintf("searches/%s-%s-%s/probe", now.UTC().Format("20060102T150405.000000000"), ph.sha[:16], nonce())
	var stored []string
	probes := make([]ProbeFace, len(ph.faces))
	for i, f := range ph.faces {
		th, err := thumbnail(ph.img, boxOf(f))
		if err != nil {
			return probeKey, nil, stored, err
		}
		probes[i] = ProbeFace{Box: boxOf(f), Quality: f.Quality, Rejections: f.Rejected,
			ThumbKey: fmt.Sprintf("%s-face-%d.jpg", strings.TrimSuffix(probeKey, "/probe")+"/face", i)}
		stored = append(stored, probes[i].ThumbKey)
		if err := s.cfg.Blobs.Put(ctx, probes[i].ThumbKey, bytes.NewReader(th), int64(len(th))); err != nil {
			return probeKey, nil, stored, fmt.Errorf("service: store probe thumbnail: %w", err)
		}
	}
	stored = append(stored, probeKey)
	if err := s.cfg.Blobs.Put(ctx, probeKey, bytes.NewReader(data), int64(len(data))); err != nil {
		return probeKey, nil, stored, fmt.Errorf("service: store probe: %w", err)
	}
	return probeKey, probes, stored, nil
}

// candidates searches each model's index with that model's embedding of every accepted probe
// face, in that model's galleries, and keeps the hits at or above req.MinSim.
func (s *Service) candidates(ctx context.Context, ph photo, models []string, byModel map[string][]int64, req SearchRequest) ([]Candidate, error) {
	var cands []Candidate
	for _, model := range models {
		embedded := ph.faces
		if model != models[0] || !allEmbeddedWith(ph.faces, model) {
			var err error
			start := time.Now()
			if embedded, err = s.byIdentity[model].AnalyzeImage(ctx, ph.img); err != nil {
				return nil, err
			}
			s.inference.observe(model, time.Since(start))
		}
		for i, f := range embedded {
			if i >= len(ph.faces) || !ph.faces[i].Accepted() || f.Embedding == nil {
				continue
			}
			hits, err := s.cfg.Indexes[model].Search(ctx, model, f.Embedding.Vector, req.K, index.Filter{Galleries: toU64(byModel[model])})
			if err != nil {
				return nil, fmt.Errorf("service: search %s: %w", model, err)
			}
			for _, h := range hits {
				if h.Similarity >= req.MinSim {
					cands = append(cands, Candidate{ProbeIndex: i, FaceID: int64(h.ID), Similarity: h.Similarity})
				}
			}
		}
	}
	return cands, nil
}

// rankPerProbe ranks each probe face's candidates across models and galleries, best first,
// and keeps its best k.
func rankPerProbe(cands []Candidate, k int) []Candidate {
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].ProbeIndex != cands[j].ProbeIndex {
			return cands[i].ProbeIndex < cands[j].ProbeIndex
		}
		return cands[i].Similarity > cands[j].Similarity
	})
	kept := cands[:0]
	rank := map[int]int{}
	for _, c := range cands {
		if rank[c.ProbeIndex] >= k {
			continue
		}
		rank[c.ProbeIndex]++
		c.Rank = rank[c.ProbeIndex]
		kept = append(kept, c)
	}
	return kept
}

// recordSearch records the search, its probe faces and a pending match per candidate with its
// audit entry, in one unit of work.
func (s *Service) recordSearch(ctx context.Context, a Actor, rec SearchRecord, probes []ProbeFace, cands []Candidate) (SearchRecord, []ProbeFace, []Match, error) {
	var matches []Match
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		if rec, probes, matches, err = c.RecordSearch(ctx, rec, probes, cands); err != nil {
			return AuditEntry{}, err
		}
		matchIDs := make([]string, len(matches))
		for i, m := range matches {
			matchIDs[i] = strconv.FormatInt(m.ID, 10)
		}
		return entry(a, "search.create", ref("search", rec.ID), rec.Galleries,
			fmt.Sprintf("probe_sha256=%s purpose=%q case_ref=%q k=%d min_similarity=%g", rec.ProbeSHA256, rec.Purpose, rec.Source.CaseRef, rec.K, rec.MinSim),
			fmt.Sprintf("faces=%d matches=[%s]", len(probes), strings.Join(matchIDs, ","))), nil
	})
	return rec, probes, matches, err
}

// searchResult is the analyst's answer: each probe face with its candidates and their bands.
func searchResult(rec SearchRecord, probes []ProbeFace, matches []Match) SearchResult {
	out := SearchResult{Search: rec, Faces: make([]ProbeResult, len(probes))}
	byProbe := map[int64]int{}
	for i, p := range probes {
		out.Faces[i] = ProbeResult{Face: p, Candidates: []CandidateView{}}
		byProbe[p.ID] = i
	}
	for _, m := range matches {
		i := byProbe[m.ProbeFaceID]
		out.Faces[i].Candidates = append(out.Faces[i].Candidates, CandidateView{FaceID: m.FaceID, GalleryID: m.GalleryID,
			SubjectID: m.SubjectID, ImageID: m.ImageID, Similarity: m.Similarity, Band: BandOf(m.Model, m.Similarity).Name,
			Rank: m.Rank, MatchID: m.ID})
	}
	return out
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
