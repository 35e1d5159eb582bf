package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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

// CandidateView is one candidate of one probe face, with its band and what its similarity
// means at its gallery's size.
type CandidateView struct {
	SearchCandidate
	Band    string `json:"band"`
	Meaning string `json:"meaning,omitempty"`
}

// ProbeResult is one face of the probe photo and its ranked candidates.
type ProbeResult struct {
	Face       ProbeFace       `json:"face"`
	Candidates []CandidateView `json:"candidates"`
}

// SearchResult is a search's record, what it found, and each gallery's operating threshold:
// the candidates at or above it are review items (MatchID set), the others are shown to the
// analyst only, who may send them for review.
type SearchResult struct {
	Search    SearchRecord     `json:"search"`
	Faces     []ProbeResult    `json:"faces"`
	Galleries []OperatingPoint `json:"galleries"`
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
	byModel, models, ops, err := s.galleriesByModel(ctx, a, req.Galleries)
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
	cands = rankPerProbe(cands, req.K)
	minorOps, err := s.minorOperatingPoints(ctx, probes, ops)
	if err != nil {
		return SearchResult{}, err
	}
	for i := range cands {
		c := &cands[i]
		op := ops[c.GalleryID]
		if probes[c.ProbeIndex].possibleMinor() {
			op = minorOps[c.GalleryID]
		}
		c.Threshold = op.Threshold
		c.Review = c.Threshold != nil && c.Similarity >= *c.Threshold
	}
	recording = true
	rec, probes, found, err := s.recordSearch(ctx, a, rec, probes, cands)
	if err != nil {
		return SearchResult{}, err
	}
	res := s.searchResult(rec, probes, found, ops)
	for i, op := range res.Galleries {
		if m, ok := minorOps[op.GalleryID]; ok && m.Threshold != nil && !strings.Contains(op.Meaning, "gallery of children") {
			res.Galleries[i].Meaning += fmt.Sprintf(" A face of this photo that looks under 18 is matched under the children's line instead: %.3f.", *m.Threshold)
		}
	}
	return res, nil
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
// once), returns the models in a fixed order, and each gallery's operating point.
func (s *Service) galleriesByModel(ctx context.Context, a Actor, galleries []int64) (map[string][]int64, []string, map[int64]OperatingPoint, error) {
	byModel := map[string][]int64{}
	ops := map[int64]OperatingPoint{}
	var models []string
	for _, id := range galleries {
		if err := checkGallery(a, id); err != nil {
			return nil, nil, nil, err
		}
		g, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, ok := s.byIdentity[g.Model]; !ok {
			return nil, nil, nil, fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
		}
		if byModel[g.Model] == nil {
			models = append(models, g.Model)
		}
		byModel[g.Model] = append(byModel[g.Model], g.ID)
		ops[g.ID] = s.operatingPoint(g)
	}
	sort.Strings(models)
	return byModel, models, ops, nil
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
		probes[i] = ProbeFace{Box: boxOf(f), Quality: f.Quality, Rejections: f.Rejected, Age: f.Age, NoAge: f.NoAge,
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
			hits, err := s.cfg.Indexes[model].Search(ctx, model, f.Embedding.Vector, fetchK(req.K), index.Filter{Galleries: toU64(byModel[model])})
			if err != nil {
				return nil, fmt.Errorf("service: search %s: %w", model, err)
			}
			scored, err := s.subjectScored(ctx, hits)
			if err != nil {
				return nil, err
			}
			for _, h := range scored {
				if h.Similarity >= req.MinSim {
					cands = append(cands, Candidate{ProbeIndex: i, FaceID: h.FaceID, GalleryID: h.GalleryID, Similarity: h.Similarity})
				}
			}
		}
	}
	return cands, nil
}

// fetchK is how many faces a search asks the index for to rank k candidates: subjects with
// several photos take several of the nearest faces, and each subject is one candidate.
func fetchK(k int) int { return 3*k + 10 }

// scoredHit is a candidate face with the similarity its subject (or itself) scores.
type scoredHit struct {
	FaceID, GalleryID int64
	SubjectID         *int64 // nil for a face without a subject
	Similarity        float32
}

// subjectScored makes a probe's index hits candidates, one per subject: a subject with several
// photos is represented by its face most like the probe and scored by it (max scoring, the
// one the operating thresholds are measured for: `eval identify`), so that two photos of one
// person are one review item, not two; a face without a subject (a collection's) is a
// candidate of its own. Faces deleted since the index answered are dropped. Best first.
//
// Scoring a subject by its photos' mean vector finds more mates (bench/RESULTS.md
// "Identification"), but its impostor scores run higher than pairs': at the thresholds read
// from the pair tails it let 1.3-4.1 % of strangers through for a 1 % target, so it waits for a
// tail of its own.
func (s *Service) subjectScored(ctx context.Context, hits []index.Hit) ([]scoredHit, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = int64(h.ID)
	}
	faces, err := s.cfg.Catalog.FacesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []scoredHit
	seen := map[int64]bool{}
	for _, h := range hits { // best first
		f, ok := faces[int64(h.ID)]
		if !ok {
			continue
		}
		if f.SubjectID != nil {
			if seen[*f.SubjectID] {
				continue
			}
			seen[*f.SubjectID] = true
		}
		out = append(out, scoredHit{FaceID: f.ID, GalleryID: f.GalleryID, SubjectID: f.SubjectID, Similarity: h.Similarity})
	}
	return out, nil
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

// recordSearch records the search, its probe faces, its candidates and the review items they
// make, with its audit entry, in one unit of work.
func (s *Service) recordSearch(ctx context.Context, a Actor, rec SearchRecord, probes []ProbeFace, cands []Candidate) (SearchRecord, []ProbeFace, []SearchCandidate, error) {
	var found []SearchCandidate
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		if rec, probes, found, err = c.RecordSearch(ctx, rec, probes, cands); err != nil {
			return AuditEntry{}, err
		}
		var made, reused []string
		for _, f := range found {
			switch {
			case f.MatchID == 0:
			case f.Reused:
				reused = append(reused, strconv.FormatInt(f.MatchID, 10))
			default:
				made = append(made, strconv.FormatInt(f.MatchID, 10))
			}
		}
		return entry(a, "search.create", ref("search", rec.ID), rec.Galleries,
			fmt.Sprintf("probe_sha256=%s purpose=%q case_ref=%q k=%d min_similarity=%g", rec.ProbeSHA256, rec.Purpose, rec.Source.CaseRef, rec.K, rec.MinSim),
			fmt.Sprintf("faces=%d candidates=%d matches=[%s] earlier_matches=[%s] %s", len(probes), len(found), strings.Join(made, ","), strings.Join(reused, ","), probeAgeAudit(probes))), nil
	})
	return rec, probes, found, err
}

// searchResult is the analyst's answer: each probe face with its candidates, their bands and
// what their similarity means at their gallery's size.
func (s *Service) searchResult(rec SearchRecord, probes []ProbeFace, found []SearchCandidate, ops map[int64]OperatingPoint) SearchResult {
	out := SearchResult{Search: rec, Faces: make([]ProbeResult, len(probes)), Galleries: []OperatingPoint{}}
	for _, id := range rec.Galleries {
		if op, ok := ops[id]; ok {
			out.Galleries = append(out.Galleries, op)
		}
	}
	byProbe := map[int64]int{}
	for i, p := range probes {
		out.Faces[i] = ProbeResult{Face: p, Candidates: []CandidateView{}}
		byProbe[p.ID] = i
	}
	for _, f := range found {
		i, ok := byProbe[f.ProbeFaceID]
		if !ok {
			continue
		}
		minors := f.Minors || out.Faces[i].Face.possibleMinor()
		out.Faces[i].Candidates = append(out.Faces[i].Candidates, CandidateView{SearchCandidate: f,
			Band: BandFor(f.Model, minors, f.Similarity).Name, Meaning: s.CandidateMeaning(f.Model, minors, ops[f.GalleryID].Faces, f.Similarity)})
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

// SendForReview makes a review item of a search's candidate that was below its gallery's
// threshold: the analyst who ran the search (or another analyst) judged it worth a look. A
// candidate that already is one is returned as it is (created false). Audited.
func (s *Service) SendForReview(ctx context.Context, a Actor, searchID, probeFaceID, faceID int64) (SearchCandidate, bool, error) {
	rec, _, err := s.searchRecord(ctx, a, searchID)
	if err != nil {
		return SearchCandidate{}, false, err
	}
	var c SearchCandidate
	var created bool
	err = s.audited(ctx, func(cat Catalog) (AuditEntry, error) {
		var err error
		if c, created, err = cat.RequestReview(ctx, searchID, probeFaceID, faceID, a.Person(), time.Now()); err != nil {
			return AuditEntry{}, err
		}
		if !a.mayRead(c.GalleryID) {
			return AuditEntry{}, fmt.Errorf("credential %s is not granted gallery %d: %w", a.Name, c.GalleryID, ErrForbidden)
		}
		return entry(a, "match.request", ref("match", c.MatchID), []int64{c.GalleryID},
			fmt.Sprintf("search=%d probe_face=%d face=%d similarity=%.4f", searchID, probeFaceID, faceID, c.Similarity),
			fmt.Sprintf("created=%t case_ref=%q", created, rec.Source.CaseRef)), nil
	})
	return c, created, err
}

// minorOperatingPoints returns the galleries' operating points for probe faces that look under
// 18, when any probe does (nil otherwise).
func (s *Service) minorOperatingPoints(ctx context.Context, probes []ProbeFace, ops map[int64]OperatingPoint) (map[int64]OperatingPoint, error) {
	if !slices.ContainsFunc(probes, ProbeFace.possibleMinor) {
		return nil, nil
	}
	out := make(map[int64]OperatingPoint, len(ops))
	for id := range ops {
		g, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = s.operatingPointFor(g, true)
	}
	return out, nil
}
