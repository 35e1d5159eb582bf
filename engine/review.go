package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Review use cases: the queue, everything a reviewer needs to decide one match, and the probe
// photo behind it, and the decision itself.

// Matches lists review items of the galleries a may read, each with its calibrated band.
func (s *Service) Matches(ctx context.Context, a Actor, f MatchFilter) ([]Match, error) {
	if a.Galleries != nil {
		f.Galleries = a.Galleries
	}
	if !ValidOrder(f.Order) {
		return nil, fmt.Errorf("order must be oldest, newest or similarity, got %q: %w", f.Order, ErrInvalid)
	}
	ms, err := s.cfg.Catalog.Matches(ctx, f)
	for i := range ms {
		ms[i].Band = BandFor(ms[i].Model, ms[i].Minors || ms[i].PossibleMinor, ms[i].Similarity).Name
	}
	return ms, err
}

// ProbeGroups is the review queue grouped by probe face (see ProbeGroup), in a's galleries.
func (s *Service) ProbeGroups(ctx context.Context, a Actor, f MatchFilter) ([]ProbeGroup, error) {
	if a.Galleries != nil {
		f.Galleries = a.Galleries
	}
	gs, err := s.cfg.Catalog.ProbeGroups(ctx, f)
	for _, g := range gs {
		for i := range g.Items {
			g.Items[i].Band = BandFor(g.Items[i].Model, g.Items[i].Minors || g.Items[i].PossibleMinor, g.Items[i].Similarity).Name
		}
	}
	return gs, err
}

// QueueCounts counts every gallery's and case's review items by status, for the service's
// metrics (no actor: it names no record, only counts).
func (s *Service) QueueCounts(ctx context.Context) ([]QueueCount, error) {
	return s.cfg.Catalog.QueueCounts(ctx)
}

// ReviewCount is where one gallery's or one case's review stands: items pending, disputed and
// final, and the creation of the oldest item still waiting (pending or disputed).
type ReviewCount struct {
	GalleryID     int64      `json:"gallery_id,omitempty"`
	CaseRef       string     `json:"case_ref,omitempty"`
	Pending       int        `json:"pending"`
	Disputed      int        `json:"disputed"`
	Final         int        `json:"final"`
	OldestWaiting *time.Time `json:"oldest_waiting,omitempty"`
}

// ReviewCounts is the review's state per gallery and per case (items without a case under
// case_ref ""), in the galleries a may read.
type ReviewCounts struct {
	Galleries []ReviewCount `json:"galleries"`
	Cases     []ReviewCount `json:"cases"`
}

// ReviewCounts counts the review items a may read by gallery and by case.
func (s *Service) ReviewCounts(ctx context.Context, a Actor) (ReviewCounts, error) {
	qs, err := s.cfg.Catalog.QueueCounts(ctx)
	if err != nil {
		return ReviewCounts{}, err
	}
	byGallery, byCase := map[int64]*ReviewCount{}, map[string]*ReviewCount{}
	var galleries []int64
	var caseOrder []string
	for _, q := range qs {
		if !a.mayRead(q.GalleryID) {
			continue
		}
		g := byGallery[q.GalleryID]
		if g == nil {
			g = &ReviewCount{GalleryID: q.GalleryID}
			byGallery[q.GalleryID] = g
			galleries = append(galleries, q.GalleryID)
		}
		c := byCase[q.CaseRef]
		if c == nil {
			c = &ReviewCount{CaseRef: q.CaseRef}
			byCase[q.CaseRef] = c
			caseOrder = append(caseOrder, q.CaseRef)
		}
		for _, rc := range []*ReviewCount{g, c} {
			switch q.Status {
			case Pending:
				rc.Pending += q.Items
			case Disputed:
				rc.Disputed += q.Items
			default:
				rc.Final += q.Items
			}
			if q.Status == Pending || q.Status == Disputed {
				if rc.OldestWaiting == nil || q.Oldest.Before(*rc.OldestWaiting) {
					t := q.Oldest
					rc.OldestWaiting = &t
				}
			}
		}
	}
	out := ReviewCounts{Galleries: []ReviewCount{}, Cases: []ReviewCount{}}
	for _, id := range galleries {
		out.Galleries = append(out.Galleries, *byGallery[id])
	}
	sort.Strings(caseOrder)
	for _, c := range caseOrder {
		out.Cases = append(out.Cases, *byCase[c])
	}
	return out, nil
}

// CountMatches counts the matches f selects (its cursor and limit aside) in the galleries a may
// read.
func (s *Service) CountMatches(ctx context.Context, a Actor, f MatchFilter) (int, error) {
	if a.Galleries != nil {
		f.Galleries = a.Galleries
	}
	return s.cfg.Catalog.CountMatches(ctx, f)
}

// Match returns one review item with its decisions and band.
func (s *Service) Match(ctx context.Context, a Actor, id int64) (Match, error) {
	m, err := s.match(ctx, a, id)
	if err != nil {
		return m, err
	}
	return m, s.auditExamination(ctx, a, "match.read", ref("match", id), []int64{m.GalleryID})
}

func (s *Service) match(ctx context.Context, a Actor, id int64) (Match, error) {
	m, err := s.cfg.Catalog.Match(ctx, id)
	if err != nil {
		return m, err
	}
	if err := checkGallery(a, m.GalleryID); err != nil {
		return Match{}, err
	}
	m.Band = BandFor(m.Model, m.Minors || m.PossibleMinor, m.Similarity).Name
	return m, nil
}

// MatchView is what a reviewer looks at to decide one match.
type MatchView struct {
	Match Match  `json:"match"`
	Band  Band   `json:"band"`
	Model string `json:"model"`
	// Meaning says how often a search of a stranger against the candidate's gallery, at its
	// size now, returns a candidate this similar ("" without a measured tail); Operating is that
	// gallery's threshold.
	Meaning   string          `json:"meaning,omitempty"`
	Operating *OperatingPoint `json:"operating_point,omitempty"`
	Search    SearchRecord    `json:"search"`
	Probe     ProbeView       `json:"probe"`
	// Candidate is the gallery face the probe face was matched with.
	Candidate CandidateFace `json:"candidate"`
	// Others are the other candidates of the same probe face, best first.
	Others []Match `json:"other_candidates"`
	// Support lists, for an item of a job's cross-match into a collection, the faces of the
	// suggested person that scored against the same subject (the probe face among them), the
	// most similar first, at most maxSupport.
	Support []MatchSupport `json:"support,omitempty"`
	// AgeMeaning says what an apparent-age estimate is and is not, when either face has one.
	AgeMeaning        string `json:"age_meaning,omitempty"`
	ReviewersRequired int    `json:"reviewers_required"`
	// CanDecide says whether the asking actor may decide this match now; CannotDecide says why
	// not.
	CanDecide    bool   `json:"can_decide"`
	CannotDecide string `json:"cannot_decide,omitempty"`
}

// ProbeView is the probe side of a match: a face of a search's uploaded photo, or of a
// collection photo a job cross-matched.
type ProbeView struct {
	Face ProbeFace `json:"face"`
	// Image is the stored collection photo for a job's probe; nil for a search's upload, whose
	// photo is read through the search (SearchPhoto).
	Image  *Image `json:"image,omitempty"`
	Source Source `json:"source"`
}

// CandidateFace is the gallery side of a match.
type CandidateFace struct {
	Face    StoredFace `json:"face"`
	Image   Image      `json:"image"`
	Gallery Gallery    `json:"gallery"`
	Subject *Subject   `json:"subject,omitempty"`
}

// MatchView gathers a match, both faces with their photos' metadata, the probe's other
// candidates and whether actor may decide it. Thumbnails and photos are fetched separately
// (photos are audited where their bytes leave).
func (s *Service) MatchView(ctx context.Context, a Actor, id int64) (MatchView, error) {
	v, err := s.matchView(ctx, a, id)
	if err != nil {
		return MatchView{}, err
	}
	// The view names the person and shows both faces' metadata: audited like a photo.
	if err := s.auditRead(ctx, entry(a, "match.view", ref("match", id), []int64{v.Match.GalleryID}, "", "")); err != nil {
		return MatchView{}, err
	}
	return v, nil
}

// matchView is MatchView unaudited: its callers audit what they make of it.
func (s *Service) matchView(ctx context.Context, a Actor, id int64) (MatchView, error) {
	var v MatchView
	m, err := s.match(ctx, a, id)
	if err != nil {
		return v, err
	}
	v.Match, v.ReviewersRequired, v.Model, v.Band = m, s.cfg.Reviewers, m.Model, BandFor(m.Model, m.Minors || m.PossibleMinor, m.Similarity)
	if v.Candidate.Gallery, err = s.cfg.Catalog.Gallery(ctx, m.GalleryID); err != nil {
		return v, err
	}
	op := s.operatingPointFor(v.Candidate.Gallery, m.PossibleMinor)
	v.Operating, v.Meaning = &op, s.CandidateMeaning(m.Model, v.Candidate.Gallery.Minors || m.PossibleMinor, v.Candidate.Gallery.Faces, m.Similarity)
	if v.Candidate.Face, err = s.cfg.Catalog.Face(ctx, m.FaceID); err != nil {
		return v, err
	}
	if v.Candidate.Image, err = s.cfg.Catalog.Image(ctx, m.ImageID); err != nil {
		return v, err
	}
	if m.SubjectID != nil {
		sub, err := s.cfg.Catalog.Subject(ctx, *m.SubjectID)
		if err != nil {
			return v, err
		}
		v.Candidate.Subject = &sub
	}
	if v.Probe.Face, err = s.cfg.Catalog.ProbeFace(ctx, m.ProbeFaceID); err != nil {
		return v, err
	}
	if m.SearchID != nil {
		if v.Search, _, err = s.cfg.Catalog.Search(ctx, *m.SearchID); err != nil {
			return v, err
		}
		v.Probe.Source = v.Search.Source
	}
	if v.Probe.Face.FaceID != nil {
		f, err := s.cfg.Catalog.Face(ctx, *v.Probe.Face.FaceID)
		if err != nil {
			return v, err
		}
		img, err := s.cfg.Catalog.Image(ctx, f.ImageID)
		if err != nil {
			return v, err
		}
		v.Probe.Image, v.Probe.Source = &img, img.Source
	}
	siblings, err := s.Matches(ctx, a, MatchFilter{ProbeFaceID: m.ProbeFaceID, Order: MostSimilarFirst, Limit: 50})
	if err != nil {
		return v, err
	}
	v.Others = []Match{}
	for _, o := range siblings {
		if o.ID != m.ID {
			v.Others = append(v.Others, o)
		}
	}
	if m.JobID != nil && m.PersonID != nil {
		if v.Support, err = s.cfg.Catalog.MatchSupport(ctx, m.ID, maxSupport); err != nil {
			return v, err
		}
	}
	if v.Probe.Face.Age != nil || v.Candidate.Face.Age != nil {
		v.AgeMeaning = AgeMeaning
	}
	v.CannotDecide = cannotDecide(a, m)
	v.CanDecide = v.CannotDecide == ""
	return v, nil
}

// maxSupport bounds the supporting faces a match view lists.
const maxSupport = 50

// cannotDecide says why a may not decide m, or "" when a may: the reviewer role, then the
// rule the catalog enforces when the decision arrives (DecisionRefusal).
func cannotDecide(a Actor, m Match) string {
	if a.Role != RoleReviewer {
		return fmt.Sprintf("the %s role does not decide matches", a.Role)
	}
	why, _ := DecisionRefusal(a.Person(), m)
	return why
}

// DecisionRefusal says why reviewer may not decide m, with the kind of refusal: ErrForbidden
// for the one who ran the search or job behind it, ErrConflict for a second decision or a
// match already final (m.Status). kind is nil when reviewer may decide. The catalog applies it inside the deciding transaction; the
// match view uses it to say so before anyone tries.
func DecisionRefusal(reviewer string, m Match) (why string, kind error) {
	if m.RequestedBy == reviewer {
		return reviewer + " ran the search or the job behind this match: another reviewer must decide it", ErrForbidden
	}
	for _, d := range m.Decisions {
		if d.Reviewer == reviewer {
			return reviewer + " already decided this match (" + spaced(d.Decision) + ")", ErrConflict
		}
	}
	if m.Status.Final() {
		for i, d := range m.Decisions {
			if d.Decision != m.Decisions[0].Decision && i+1 < len(m.Decisions) {
				return fmt.Sprintf("the match is final (%s, settled by %s after a dispute): it takes no further decision",
					spaced(m.Status), m.Decisions[i+1].Reviewer), ErrConflict
			}
		}
		var agreed []string
		for _, d := range m.Decisions {
			if d.Decision == m.Status {
				agreed = append(agreed, d.Reviewer)
			}
		}
		return fmt.Sprintf("the match is final (%s, agreed by %s): it takes no further decision", spaced(m.Status), strings.Join(agreed, ", ")), ErrConflict
	}
	return "", nil
}

func spaced(s MatchStatus) string { return strings.ReplaceAll(string(s), "_", " ") }

// SearchPhoto returns the probe photo a search was run with (bytes and MIME type); every access
// is audited.
func (s *Service) SearchPhoto(ctx context.Context, a Actor, searchID int64) ([]byte, string, error) {
	rec, _, err := s.cfg.Catalog.Search(ctx, searchID)
	if err != nil {
		return nil, "", err
	}
	if !a.mayReadAny(rec.Galleries) {
		return nil, "", fmt.Errorf("credential %s is not granted any gallery of search %d: %w", a.Name, searchID, ErrForbidden)
	}
	if rec.ProbeKey == "" {
		return nil, "", fmt.Errorf("search %d is a job's cross-match: its probes are stored photos, read them as images: %w", searchID, ErrNotFound)
	}
	data, err := s.readBlob(ctx, rec.ProbeKey)
	if err != nil {
		return nil, "", err
	}
	if err := s.auditRead(ctx, entry(a, "search.photo.view", ref("search", searchID), rec.Galleries, "", "")); err != nil {
		return nil, "", err
	}
	return data, http.DetectContentType(data), nil
}

// CloseOtherCandidates records, for a, no_candidate on every other candidate of match's probe
// face that a may still decide, once a has decided match a potential candidate: the person in
// the probe photo is one person. Each closure is a decision of its own (audited, counted
// under the two-reviewer rule like any other); the candidates a may not decide (its own
// search, decided, final) are left as they are. It returns the matches closed.
func (s *Service) CloseOtherCandidates(ctx context.Context, a Actor, matchID int64) ([]int64, error) {
	m, err := s.match(ctx, a, matchID)
	if err != nil {
		return nil, err
	}
	mine := false
	for _, d := range m.Decisions {
		mine = mine || (d.Reviewer == a.Person() && d.Decision == PotentialCandidate)
	}
	if !mine {
		return nil, fmt.Errorf("closing the other candidates of match %d needs your potential_candidate decision on it first: %w", matchID, ErrConflict)
	}
	others, err := s.cfg.Catalog.Matches(ctx, MatchFilter{ProbeFaceID: m.ProbeFaceID, Limit: s.cfg.MaxK + 1})
	if err != nil {
		return nil, err
	}
	closed := []int64{}
	note := fmt.Sprintf("closed together: match %d is this probe face's potential candidate", matchID)
	for _, o := range others {
		if o.ID == matchID || !a.mayRead(o.GalleryID) {
			continue
		}
		if why, _ := DecisionRefusal(a.Person(), o); why != "" {
			continue
		}
		if _, err := s.Decide(ctx, a, o.ID, NoCandidate, note); err != nil {
			if errors.Is(err, ErrConflict) || errors.Is(err, ErrForbidden) {
				continue // decided meanwhile by someone else
			}
			return closed, err
		}
		closed = append(closed, o.ID)
	}
	return closed, nil
}

// decisionInput is a decision's audit input: the decision and the reviewer's note, which is
// part of the record of why (quoted, so that the entry reads as one line).
func decisionInput(d MatchStatus, note string) string {
	if note == "" {
		return "decision=" + string(d)
	}
	return fmt.Sprintf("decision=%s note=%q", d, note)
}

// Decide records a reviewer's decision on a match.
func (s *Service) Decide(ctx context.Context, a Actor, matchID int64, d MatchStatus, note string) (Match, error) {
	note, err := CleanText("note", note, MaxNoteLen, true)
	if err != nil {
		return Match{}, err
	}
	if d == PotentialCandidate && note == "" {
		return Match{}, fmt.Errorf("a potential_candidate decision needs a note: %w", ErrInvalid)
	}
	if a.Galleries != nil {
		if _, err := s.match(ctx, a, matchID); err != nil {
			return Match{}, err
		}
	}
	var m Match
	var refused error
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		m, err = c.Decide(ctx, matchID, a.Person(), d, note, s.cfg.Reviewers)
		if errors.Is(err, ErrForbidden) || errors.Is(err, ErrConflict) {
			// The refusal is itself worth recording: it commits, the decision does not exist.
			refused = err
			return entry(a, "match.decide.refused", ref("match", matchID), nil, "decision="+string(d), err.Error()), nil
		}
		return entry(a, "match.decide", ref("match", matchID), []int64{m.GalleryID}, decisionInput(d, note), "status="+string(m.Status)), err
	})
	if err == nil {
		err = refused
	}
	return m, err
}
