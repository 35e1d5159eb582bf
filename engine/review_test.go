package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// The match view says who may decide: the reviewer role, then the rule the catalog enforces
// when the decision arrives (DecisionRefusal).
func TestCannotDecide(t *testing.T) {
	m := engine.Match{RequestedBy: "ann", Decisions: []engine.Decision{{Reviewer: "rev1", Decision: engine.NoCandidate}}}
	for _, tc := range []struct {
		actor engine.Actor
		want  string // "" may decide
	}{
		{engine.Actor{Name: "rev2", Role: engine.RoleReviewer}, ""},
		{engine.Actor{Name: "rev1", Role: engine.RoleReviewer}, "already decided this match (no candidate)"},
		{engine.Actor{Name: "ann", Role: engine.RoleReviewer}, "ann ran the search or the job"},
		{engine.Actor{Name: "boss", Role: engine.RoleAdmin}, "the admin role does not decide"},
		{engine.Actor{Name: "ann", Role: engine.RoleAnalyst}, "the analyst role does not decide"},
	} {
		got := engine.CannotDecide(tc.actor, m)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s (%s): %q, want %q", tc.actor.Name, tc.actor.Role, got, tc.want)
		}
	}
}

// A final match (the required reviewers agree) takes no further decision: a third reviewer
// cannot turn it into a dispute. DecisionRefusal (the catalog's rule) and the match view agree.
func TestFinalMatchRefusesDecisions(t *testing.T) {
	agreed := []engine.Decision{{Reviewer: "rev1", Decision: engine.NoCandidate}, {Reviewer: "rev2", Decision: engine.NoCandidate}}
	for _, tc := range []struct {
		name      string
		decisions []engine.Decision
		required  int
		status    engine.MatchStatus
		refusal   string // DecisionRefusal for rev3; "" may decide
	}{
		{"pending", agreed[:1], 2, engine.Pending, ""},
		{"final", agreed, 2, engine.NoCandidate, "final (no candidate, agreed by rev1, rev2)"},
		{"final with three required is pending at two", agreed, 3, engine.Pending, ""},
		{"disputed waits for an adjudication", []engine.Decision{agreed[0], {Reviewer: "rev2", Decision: engine.Inconclusive}}, 2, engine.Disputed, ""},
		// The first decision after the disagreement settles the dispute; nothing after it counts.
		{"adjudicated", []engine.Decision{agreed[0], {Reviewer: "rev2", Decision: engine.Inconclusive}, {Reviewer: "rev4", Decision: engine.PotentialCandidate, Note: "scar"}},
			2, engine.PotentialCandidate, "final (potential candidate, settled by rev4 after a dispute)"},
		{"disputed among three required", []engine.Decision{agreed[0], agreed[1], {Reviewer: "rev4", Decision: engine.Inconclusive}}, 3, engine.Disputed, ""},
		// A decision that slipped in after finality (before this rule) does not undo it.
		{"late decision ignored", append(agreed[:2:2], engine.Decision{Reviewer: "rev3", Decision: engine.PotentialCandidate}), 2, engine.NoCandidate, "already decided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := engine.Resolve(tc.decisions, tc.required); got != tc.status {
				t.Fatalf("Resolve = %s, want %s", got, tc.status)
			}
			m := engine.Match{RequestedBy: "ann", Decisions: tc.decisions, Status: tc.status}
			why, kind := engine.DecisionRefusal("rev3", m)
			if (tc.refusal == "") != (why == "") || !strings.Contains(why, tc.refusal) {
				t.Fatalf("refusal %q, want %q", why, tc.refusal)
			}
			if why != "" && !errors.Is(kind, engine.ErrConflict) {
				t.Fatalf("refusal kind %v, want ErrConflict", kind)
			}
			view := engine.CannotDecide(engine.Actor{Name: "rev3", Role: engine.RoleReviewer}, m)
			if view != why {
				t.Fatalf("match view says %q, the catalog %q", view, why)
			}
		})
	}
}

// referenceGallery creates a reference gallery with one subject per fake person, each enrolled
// with the person's photo variant 1.
func (f *fixture) referenceGallery(t *testing.T, name string, persons ...int) int64 {
	t.Helper()
	ctx := t.Context()
	g, err := f.svc.CreateGallery(ctx, admin, name, engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, person := range persons {
		s, err := f.svc.CreateSubject(ctx, admin, engine.Subject{GalleryID: g.ID, Name: fmt.Sprint("person ", person)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddImage(ctx, analyst, engine.Upload{GalleryID: g.ID, SubjectID: &s.ID, Data: facetest.Photo(person, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	return g.ID
}

// candidates searches the gallery, as the analyst, with a photo of one face and returns its
// candidates (at least one), every one a review item: those below the gallery's threshold are
// sent for review by the analyst, as the review rules' tests need items of strangers too.
func (f *fixture) candidates(t *testing.T, req engine.SearchRequest) []engine.CandidateView {
	t.Helper()
	if req.Purpose == "" {
		req.Purpose = "ad"
	}
	res, err := f.svc.Search(t.Context(), analyst, req)
	if err != nil || len(res.Faces) != 1 || len(res.Faces[0].Candidates) == 0 {
		t.Fatalf("search: %+v, %v", res, err)
	}
	cands := res.Faces[0].Candidates
	for i, c := range cands {
		if c.MatchID != 0 {
			continue
		}
		sent, created, err := f.svc.SendForReview(t.Context(), analyst, res.Search.ID, c.ProbeFaceID, c.FaceID)
		if err != nil || !created || sent.MatchID == 0 {
			t.Fatalf("send candidate %d for review: %+v, %t, %v", i, sent, created, err)
		}
		cands[i].MatchID, cands[i].Status = sent.MatchID, sent.Status
	}
	return cands
}

// TestDecisionNoteIsAudited: the reviewer's note is part of the decision's audit entry, so an
// auditor reads why as well as what.
func TestDecisionNoteIsAudited(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73)
	match := f.candidates(t, engine.SearchRequest{Data: facetest.Photo(73, 2), Galleries: []int64{ref}})[0].MatchID
	const note = "same \"rose\" tattoo on the left wrist"
	if _, err := f.svc.Decide(ctx, reviewer, match, engine.PotentialCandidate, note); err != nil {
		t.Fatal(err)
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "match.decide", Limit: 10})
	if err != nil || len(es) != 1 {
		t.Fatalf("decision entries: %+v, %v", es, err)
	}
	if want := `decision=potential_candidate note="same \"rose\" tattoo on the left wrist"`; es[0].Input != want {
		t.Errorf("audit input %q, want %q", es[0].Input, want)
	}
}

// TestReviewCounts: the review's state per gallery and per case, pending, disputed and final,
// with the oldest item still waiting; a scoped credential counts its galleries only.
func TestReviewCounts(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	refs := []int64{f.referenceGallery(t, "unit 0", 73), f.referenceGallery(t, "unit 1", 146)}
	match := func(person, variant int, gallery int64, caseRef string) int64 {
		return f.candidates(t, engine.SearchRequest{Data: facetest.Photo(person, variant), Galleries: []int64{gallery},
			Source: engine.Source{CaseRef: caseRef}})[0].MatchID
	}
	final := match(73, 2, refs[0], "OP-1")
	disputed := match(73, 3, refs[0], "OP-1")
	match(146, 2, refs[1], "OP-2")
	for _, d := range []struct {
		id int64
		by engine.Actor
		as engine.MatchStatus
	}{{final, reviewer, engine.NoCandidate}, {final, second, engine.NoCandidate}, {disputed, reviewer, engine.NoCandidate}, {disputed, second, engine.Inconclusive}} {
		if _, err := f.svc.Decide(ctx, d.by, d.id, d.as, ""); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := f.svc.ReviewCounts(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Galleries) != 2 || len(rc.Cases) != 2 {
		t.Fatalf("counts: %+v", rc)
	}
	if g := rc.Galleries[0]; g.GalleryID != refs[0] || g.Pending != 0 || g.Disputed != 1 || g.Final != 1 || g.OldestWaiting == nil {
		t.Errorf("gallery %d: %+v, want one disputed (waiting) and one final", refs[0], g)
	}
	if c := rc.Cases[1]; c.CaseRef != "OP-2" || c.Pending != 1 || c.OldestWaiting == nil {
		t.Errorf("case OP-2: %+v, want one pending", c)
	}
	scoped := engine.Actor{Name: "unit-1", Role: engine.RoleReviewer, Galleries: []int64{refs[1]}}
	if rc, err := f.svc.ReviewCounts(ctx, scoped); err != nil || len(rc.Galleries) != 1 || rc.Galleries[0].GalleryID != refs[1] || len(rc.Cases) != 1 {
		t.Errorf("scoped counts: %+v, %v", rc, err)
	}
}

// TestDisputeIsAdjudicated: two reviewers disagree; a third settles the dispute with a note (not
// without one), and the match is final with the third's decision.
func TestDisputeIsAdjudicated(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73)
	id := f.candidates(t, engine.SearchRequest{Data: facetest.Photo(73, 2), Galleries: []int64{ref}})[0].MatchID
	third := engine.Actor{Name: "rev3", Role: engine.RoleReviewer}
	fourth := engine.Actor{Name: "rev4", Role: engine.RoleReviewer}
	if _, err := f.svc.Decide(ctx, reviewer, id, engine.NoCandidate, ""); err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.Decide(ctx, second, id, engine.Inconclusive, "")
	if err != nil || m.Status != engine.Disputed {
		t.Fatalf("after a disagreement: %s, %v", m.Status, err)
	}
	if _, err := f.svc.Decide(ctx, third, id, engine.NoCandidate, ""); !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "needs a note") {
		t.Fatalf("adjudicating without a note: %v", err)
	}
	m, err = f.svc.Decide(ctx, third, id, engine.NoCandidate, "different ear lobes")
	if err != nil || m.Status != engine.NoCandidate {
		t.Fatalf("adjudication: %s, %v", m.Status, err)
	}
	if _, err := f.svc.Decide(ctx, fourth, id, engine.PotentialCandidate, "no"); !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "settled by rev3 after a dispute") {
		t.Fatalf("a decision after the adjudication: %v", err)
	}
}

// TestCloseOtherCandidates: a reviewer who marks one candidate of a probe face a potential
// candidate closes the others as no candidate in one step, each closure a decision of its own;
// candidates the reviewer may not decide stay as they are.
func TestCloseOtherCandidates(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fakePipeline())
	ref := f.referenceGallery(t, "wanted", 73, 146, 292, 400)
	cands := f.candidates(t, engine.SearchRequest{Data: facetest.Photo(73, 2), Galleries: []int64{ref}, MinSim: -1})
	if len(cands) != 4 {
		t.Fatalf("%d candidates, want every subject", len(cands))
	}
	// rev2 already said something about the last candidate: rev1 may still close it (two reviewers).
	if _, err := f.svc.Decide(ctx, second, cands[3].MatchID, engine.Inconclusive, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CloseOtherCandidates(ctx, reviewer, cands[0].MatchID); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("closing before the potential candidate: %v", err)
	}
	// rev1 decided the second candidate already: it is left as it is.
	if _, err := f.svc.Decide(ctx, reviewer, cands[1].MatchID, engine.Inconclusive, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Decide(ctx, reviewer, cands[0].MatchID, engine.PotentialCandidate, "same scar"); err != nil {
		t.Fatal(err)
	}
	closed, err := f.svc.CloseOtherCandidates(ctx, reviewer, cands[0].MatchID)
	if err != nil || !slices.Equal(closed, []int64{cands[2].MatchID, cands[3].MatchID}) {
		t.Fatalf("closed %v (%v), want the 3rd and 4th candidates", closed, err)
	}
	for i, want := range []engine.MatchStatus{engine.Pending, engine.Pending, engine.Pending, engine.Disputed} {
		m, err := f.cat.Match(ctx, cands[i].MatchID)
		if err != nil || m.Status != want {
			t.Errorf("candidate %d: %s, %v; want %s", i, m.Status, err, want)
		}
	}
	es, err := f.svc.AuditEntries(ctx, engine.Actor{Name: "aud", Role: engine.RoleAuditor}, engine.AuditFilter{Action: "match.decide", Actor: "rev1", Limit: 10})
	if err != nil || len(es) != 4 {
		t.Fatalf("rev1's decisions in the audit log: %d, %v; want 4 (one per item)", len(es), err)
	}
}
