package engine

import (
	"fmt"
	"strings"
	"testing"
)

func TestGroupPersonItems(t *testing.T) {
	p := func(id int64) *int64 { return &id }
	hit := func(face, galleryFace int64, sim float32, person, subject *int64) JobFaceHit {
		return JobFaceHit{FaceID: face, GalleryFaceID: galleryFace, GalleryID: 9, Similarity: sim, PersonID: person, SubjectID: subject}
	}
	// describe writes each item as person/subject:probe→candidate@similarity#rank[its hits' faces].
	describe := func(items []PersonItem) string {
		var out []string
		for _, it := range items {
			person, subject := "-", "-"
			if it.PersonID != nil {
				person = fmt.Sprint(*it.PersonID)
			}
			if it.SubjectID != nil {
				subject = fmt.Sprint(*it.SubjectID)
			}
			var faces []string
			for _, h := range it.Hits {
				faces = append(faces, fmt.Sprint(h.FaceID))
			}
			out = append(out, fmt.Sprintf("%s/%s:%d→%d@%.2f#%d[%s]", person, subject, it.Probe, it.Candidate.FaceID, it.Candidate.Similarity,
				it.Candidate.Rank, strings.Join(faces, ",")))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name  string
		hits  []JobFaceHit
		final bool
		want  string
	}{
		{"one person's photos of one subject are one item, its best pair standing for all",
			[]JobFaceHit{hit(3, 100, 0.81, p(1), p(7)), hit(1, 101, 0.86, p(1), p(7)), hit(2, 100, 0.83, p(1), p(7))}, false,
			"1/7:1→101@0.86#1[1,2,3]"},
		{"a person's subjects are ranked by their best pair",
			[]JobFaceHit{hit(1, 100, 0.81, p(1), p(7)), hit(2, 200, 0.90, p(1), p(8)), hit(3, 300, 0.85, p(2), p(7))}, false,
			"1/8:2→200@0.90#1[2] 1/7:1→100@0.81#2[1] 2/7:3→300@0.85#1[3]"},
		{"reference faces without a subject are subjects of their own",
			[]JobFaceHit{hit(1, 100, 0.81, p(1), nil), hit(2, 101, 0.82, p(1), nil), hit(3, 100, 0.83, p(1), nil)}, false,
			"1/-:3→100@0.83#1[1,3] 1/-:2→101@0.82#2[2]"},
		{"ties go to the lower face IDs",
			[]JobFaceHit{hit(5, 100, 0.85, p(1), p(7)), hit(4, 101, 0.85, p(1), p(7)), hit(4, 100, 0.85, p(1), p(7))}, false,
			"1/7:4→100@0.85#1[4,4,5]"},
		{"faces without a person wait",
			[]JobFaceHit{hit(1, 100, 0.81, nil, p(7)), hit(2, 100, 0.82, p(1), p(7))}, false,
			"1/7:2→100@0.82#1[2]"},
		{"at the end, a face without a person stands for itself",
			[]JobFaceHit{hit(1, 100, 0.81, nil, p(7)), hit(3, 100, 0.84, nil, p(7)), hit(2, 100, 0.82, p(1), p(7))}, true,
			"-/7:3→100@0.84#1[3] -/7:1→100@0.81#1[1] 1/7:2→100@0.82#1[2]"},
		{"nothing", nil, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(groupPersonItems(tc.hits, tc.final)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
