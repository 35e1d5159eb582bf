package engine_test

import (
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
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
