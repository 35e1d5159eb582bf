package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A case report reads the audit trail of its records by target: the newest entries about any of
// them, oldest first, never an entry about another record (person:1 is not person:12), across
// more targets than one query's IN list holds; and the query uses the target index.
func TestEntriesAbout(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		ctx := context.Background()
		d, _ := openTest(t)
		for _, target := range []string{"person:1", "person:12", "image:7", "person:1", "match:1", "image:7", ""} {
			if _, err := d.Append(ctx, engine.AuditEntry{Actor: "ann", Action: "x.read", Target: target, Galleries: []int64{2}}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(es []engine.AuditEntry) []int64 {
			var out []int64
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		many := []string{"image:7"}
		for i := range 2 * targetsPerQuery {
			many = append(many, fmt.Sprintf("face:%d", 1000+i)) // entries about image:7 sit in the first chunk
		}
		many = append(many, "person:1") // and about person:1 in the last
		for _, tc := range []struct {
			targets []string
			limit   int
			want    []int64
		}{
			{[]string{"person:1"}, 10, []int64{1, 4}},
			{[]string{"person:1", "image:7"}, 10, []int64{1, 3, 4, 6}},
			{[]string{"person:1", "image:7", "person:1"}, 2, []int64{4, 6}}, // the newest two, oldest first
			{[]string{"person:99"}, 10, nil},
			{nil, 10, nil},
			{many, 10, []int64{1, 3, 4, 6}},
			{many, 3, []int64{3, 4, 6}},
		} {
			es := must[[]engine.AuditEntry](t)(d.EntriesAbout(ctx, tc.targets, tc.limit))
			if es == nil || !slices.Equal(ids(es), tc.want) {
				t.Errorf("%d targets, limit %d: entries %v, want %v", len(tc.targets), tc.limit, ids(es), tc.want)
			}
		}
		es := must[[]engine.AuditEntry](t)(d.EntriesAbout(ctx, []string{"person:12"}, 1))
		if len(es) != 1 || es[0].Target != "person:12" || es[0].Hash == "" || !slices.Equal(es[0].Galleries, []int64{2}) {
			t.Errorf("entry read back: %+v", es)
		}
		if onPostgres(t) {
			return // the plan below is SQLite's
		}
		// EXPLAIN QUERY PLAN's first row is the look-up (the second, the sort of its results).
		var id, parent, unused int
		var detail string
		if err := d.read.QueryRowContext(ctx, `EXPLAIN QUERY PLAN SELECT id FROM audit WHERE target IN (?, ?) ORDER BY id DESC LIMIT 5`, "person:1", "image:7").
			Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(detail, "INDEX audit_target (target=?)") {
			t.Errorf("the look-up by target does not use its index: %q", detail)
		}
	})
}
