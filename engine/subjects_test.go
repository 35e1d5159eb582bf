package engine_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

// A subject's edit is checked as its creation, changes only the fields given, stays in the
// actor's scope and is audited with the fields it changed.
func TestUpdateSubject(t *testing.T) {
	f := newFixture(t, fakePipeline())
	ref, err := f.svc.CreateGallery(ctx(), admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.CreateGallery(ctx(), admin, "other", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := f.svc.CreateSubject(ctx(), admin, engine.Subject{GalleryID: ref.ID, Name: "Ada", ExternalRef: "N-1", Notes: "first notes"})
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	scoped := engine.Actor{Name: "scoped", Role: engine.RoleAnalyst, Galleries: []int64{other.ID}}
	for _, tc := range []struct {
		name    string
		actor   engine.Actor
		id      int64
		change  engine.SubjectChange
		wantErr error
		detail  string // in the error
		want    engine.Subject
		fields  string // the audit entry's list of changed fields
	}{
		{"nothing to change", analyst, sub.ID, engine.SubjectChange{}, engine.ErrInvalid, "nothing to change", engine.Subject{}, ""},
		{"unknown subject", analyst, 999, engine.SubjectChange{Name: str("Bo")}, engine.ErrNotFound, "subject 999", engine.Subject{}, ""},
		{"empty name", analyst, sub.ID, engine.SubjectChange{Name: str("  ")}, engine.ErrInvalid, "name", engine.Subject{}, ""},
		{"name too long", analyst, sub.ID, engine.SubjectChange{Name: str(strings.Repeat("a", 101))}, engine.ErrInvalid, "100", engine.Subject{}, ""},
		{"name with a control character", analyst, sub.ID, engine.SubjectChange{Name: str("Ada\x07")}, engine.ErrInvalid, "name", engine.Subject{}, ""},
		{"reference too long", analyst, sub.ID, engine.SubjectChange{ExternalRef: str(strings.Repeat("r", engine.MaxRefLen+1))}, engine.ErrInvalid, "external_ref", engine.Subject{}, ""},
		{"notes too long", analyst, sub.ID, engine.SubjectChange{Notes: str(strings.Repeat("n", engine.MaxNoteLen+1))}, engine.ErrInvalid, "notes", engine.Subject{}, ""},
		{"out of scope", scoped, sub.ID, engine.SubjectChange{Name: str("Bo")}, engine.ErrForbidden, "not granted", engine.Subject{}, ""},
		{"name only", analyst, sub.ID, engine.SubjectChange{Name: str("  Ada   Lovelace ")}, nil, "",
			engine.Subject{Name: "Ada Lovelace", ExternalRef: "N-1", Notes: "first notes"}, "name"},
		{"reference and notes, notes cleared", admin, sub.ID, engine.SubjectChange{ExternalRef: str("N-2"), Notes: str("")}, nil, "",
			engine.Subject{Name: "Ada Lovelace", ExternalRef: "N-2"}, "external_ref,notes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(auditOf(t, f, "subject.update"))
			got, err := f.svc.UpdateSubject(ctx(), tc.actor, tc.id, tc.change)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.detail) {
					t.Fatalf("err %v, want %v naming %q", err, tc.wantErr, tc.detail)
				}
				if n := len(auditOf(t, f, "subject.update")); n != before {
					t.Errorf("a refused edit was audited")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want.Name || got.ExternalRef != tc.want.ExternalRef || got.Notes != tc.want.Notes || got.GalleryID != ref.ID || got.CreatedAt.IsZero() {
				t.Errorf("got %+v, want %+v in gallery %d", got, tc.want, ref.ID)
			}
			stored, err := f.cat.Subject(ctx(), sub.ID)
			if err != nil || stored.Name != tc.want.Name || stored.ExternalRef != tc.want.ExternalRef || stored.Notes != tc.want.Notes {
				t.Errorf("stored %+v (%v), want %+v", stored, err, tc.want)
			}
			es := auditOf(t, f, "subject.update")
			if len(es) != before+1 {
				t.Fatalf("%d subject.update entries, want %d", len(es), before+1)
			}
			e := es[len(es)-1]
			if e.Actor != tc.actor.Name || e.Target != "subject:"+strconv.FormatInt(sub.ID, 10) || len(e.Galleries) != 1 || e.Galleries[0] != ref.ID {
				t.Errorf("audit entry %+v", e)
			}
			if !strings.HasPrefix(e.Input, "fields="+tc.fields+" ") {
				t.Errorf("audit input %q, want fields=%s", e.Input, tc.fields)
			}
		})
	}
}

func auditOf(t *testing.T, f *fixture, action string) []engine.AuditEntry {
	t.Helper()
	es, err := f.cat.Entries(ctx(), engine.AuditFilter{Action: action, Oldest: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
