package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
)

// TestEnrolmentFacePicker: a reference photo of two people is refused with both faces listed
// (boxes and thumbnails) until the uploader says which is the subject's; then only that face
// is stored.
func TestEnrolmentFacePicker(t *testing.T) {
	ts := newTestServer(t)
	analyst := ts.tokens["analyst"]
	g := ts.createGallery(t, "wanted", engine.Reference)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", g.ID), analyst, "application/json", []byte(`{"name":"Katy Perry"}`))
	var sub engine.Subject
	if resp.StatusCode != 201 || json.Unmarshal(body, &sub) != nil {
		t.Fatalf("create subject: %d %s", resp.StatusCode, body)
	}
	group := facetest.Group(1, elon, katy)
	upload := func(fields map[string]string) (int, []byte) {
		fields["subject_id"] = fmt.Sprint(sub.ID)
		b, ct := multipartBody(t, group, fields)
		resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), analyst, ct, b)
		return resp.StatusCode, body
	}

	status, body := upload(map[string]string{})
	var p Problem
	if status != 409 || json.Unmarshal(body, &p) != nil || len(p.Faces) != 2 || !strings.Contains(p.Detail, "say which is the subject's") {
		t.Fatalf("two faces, no pick: %d %s", status, body)
	}
	for i, f := range p.Faces {
		if f.Index != i || f.Box.W <= 0 || !strings.HasPrefix(f.Thumbnail, "data:image/jpeg;base64,") {
			t.Errorf("listed face %d: %+v", i, f)
		}
	}
	for _, tc := range []struct {
		fields map[string]string
		status int
		detail string
	}{
		{map[string]string{"face": "one"}, 400, "face must be a face's index from 0"},
		{map[string]string{"face": "-1"}, 400, "face must be a face's index from 0"},
		{map[string]string{"face": "5"}, 422, "face 5: the photo shows 2 faces"},
		{map[string]string{"face_box": "1,2,3"}, 400, "face_box must be x,y,w,h"},
		{map[string]string{"face_box": "1,2,NaN,4"}, 400, "face_box must be x,y,w,h"},
		{map[string]string{"face": "1", "face_box": "1,2,3,4"}, 400, "not both"},
	} {
		status, body := upload(tc.fields)
		if status != tc.status || !strings.Contains(string(body), tc.detail) {
			t.Errorf("%v: %d %s, want %d %q", tc.fields, status, body, tc.status, tc.detail)
		}
	}
	status, body = upload(map[string]string{"face": "1"})
	var e engine.Enrolled
	if status != 201 || json.Unmarshal(body, &e) != nil || len(e.Faces) != 1 || e.Faces[0].Box.X < facetest.Side {
		t.Fatalf("face 1 picked: %d %s", status, body)
	}
}
