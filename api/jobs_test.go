package api

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/internal/source"
)

// uploadsOnly opens archives uploaded with a job and refuses everything else, as a service
// without --ingest-root does.
type uploadsOnly struct{ blobs engine.BlobStore }

func (u uploadsOnly) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	key, ok := strings.CutPrefix(spec, "upload:")
	if !ok {
		return nil, errors.New("this service reads no local paths")
	}
	return source.Archive(ctx, func(ctx context.Context) (io.ReadCloser, error) { return u.blobs.Get(ctx, key) }, os.TempDir())
}

func jobFormBody(t *testing.T, fields map[string]string, files map[string][]byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for name, data := range files {
		field, _, _ := strings.Cut(name, ":")
		fw, _ := w.CreateFormFile(field, strings.TrimPrefix(name, field+":"))
		fw.Write(data)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An operator uploads a zip of ad photos with a metadata sidecar; the job lists its bad file
// and reports progress; a reviewer reads it but may not start or cancel jobs.
func TestJobFromUploadedArchive(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create gallery: %d %s", resp.StatusCode, body)
	}
	var g engine.Gallery
	json.Unmarshal(body, &g)
	archive := zipOf(t, map[string][]byte{
		"ad1/a.jpg":  facetest.Photo(katy, 26),
		"ad2/b.jpg":  facetest.Photo(elon, 18),
		"ad2/c.jpg":  []byte("GIF89a but not really"),
		"../up.jpg":  facetest.Photo(elon, 19),
		"notes/.txt": []byte("hidden"),
	})
	fields := map[string]string{"kind": "ingest", "gallery_id": strconv.FormatInt(g.ID, 10), "purpose": "case 12"}
	form, ct := jobFormBody(t, fields, map[string][]byte{"archive:ads.zip": archive, "meta:meta.csv": []byte("file,site\nad1/a.jpg,example\n")})

	if resp, _ := ts.do(t, "POST", "/v1/jobs", ts.tokens["reviewer"], ct, form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reviewer creating a job: %d, want 403", resp.StatusCode)
	}
	resp, body = ts.do(t, "POST", "/v1/jobs", ts.tokens["admin"], ct, form)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("create job: %d %s", resp.StatusCode, body)
	}
	var j engine.Job
	json.Unmarshal(body, &j)
	if j.State != engine.JobQueued || !strings.HasPrefix(j.Spec.Source, "upload:") {
		t.Fatalf("job = %+v, want queued on the upload", j)
	}
	if _, err := ts.svc.RunJob(context.Background(), j.ID, nil); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", "/v1/jobs/"+strconv.FormatInt(j.ID, 10), ts.tokens["reviewer"], "", nil)
	var v engine.JobView
	json.Unmarshal(body, &v)
	if resp.StatusCode != 200 || v.State != engine.JobDone || v.Total != 4 || v.Stored != 2 || v.Failed != 2 || v.Rate <= 0 {
		t.Fatalf("job: %d %s; want done, 4 files, 2 stored, 2 failed, a rate", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/items?state=failed", ts.tokens["analyst"], "", nil)
	var items page[engine.JobItem]
	json.Unmarshal(body, &items)
	reasons := map[string]string{}
	for _, it := range items.Items {
		reasons[it.Name] = it.Reason
	}
	if resp.StatusCode != 200 || !strings.Contains(reasons["ad2/c.jpg"], "decode") || !strings.Contains(reasons["../up.jpg"], "unsafe path") || len(reasons) != 2 {
		t.Errorf("failed items: %d %s", resp.StatusCode, body)
	}
	resp, _ = ts.do(t, "POST", "/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/cancel", ts.tokens["admin"], "", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("cancelling a finished job: %d, want 409", resp.StatusCode)
	}
	// The archive held photos: it is gone once they are ingested.
	key := strings.TrimPrefix(j.Spec.Source, "upload:")
	if _, err := ts.blobs.Get(context.Background(), key); err == nil {
		t.Errorf("uploaded archive %s still stored after the job", key)
	}

	for _, tc := range []struct {
		name   string
		fields map[string]string
		files  map[string][]byte
		status int
		msg    string
	}{
		{"local path", map[string]string{"source": "/etc"}, nil, 422, "no local paths"},
		{"no source", nil, nil, 422, "source"},
		{"not an archive", nil, map[string][]byte{"archive:x.zip": []byte("hello")}, 422, "not a zip, tar or tar.gz"},
		{"meta not csv or json", nil, map[string][]byte{"archive:x.zip": archive, "meta:meta.xls": []byte("x")}, 400, "meta file"},
		{"bad gallery", map[string]string{"gallery_id": "x"}, nil, 400, "gallery_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := map[string]string{"kind": "ingest", "gallery_id": strconv.FormatInt(g.ID, 10), "purpose": "p"}
			for k, v := range tc.fields {
				f[k] = v
			}
			form, ct := jobFormBody(t, f, tc.files)
			resp, body := ts.do(t, "POST", "/v1/jobs", ts.tokens["admin"], ct, form)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.msg) {
				t.Errorf("%d %s, want %d mentioning %q", resp.StatusCode, body, tc.status, tc.msg)
			}
		})
	}
}
