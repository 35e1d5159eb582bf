package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob/s3/s3test"
	"github.com/facematch/facematch/internal/testenv"
)

// An object-store outage is the service being unavailable, not an internal error: uploads answer
// 503 with Retry-After, /readyz says not ready, and both recover with the store (issue 12,
// defect 13).
func TestS3OutageIsUnavailable(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	g := s3test.Start(t)
	cfg := g.Config("outage", "")
	s := startService(t, []string{"--data-dir", t.TempDir(), "--blobs", "s3://outage/fm", "--s3-endpoint", cfg.Endpoint, "--s3-insecure"},
		[]string{"FACEMATCH_S3_ACCESS_KEY=" + cfg.AccessKey, "FACEMATCH_S3_SECRET_KEY=" + cfg.SecretKey})
	defer s.stop()
	tokens := s.tokens()
	var ads idObj
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	ph := photos(t, "Katy_Perry")
	var up struct {
		Image idObj `json:"image"`
	}
	s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], form(t, ph[0], nil), &up)

	g.Kill()
	f := form(t, ph[1], nil)
	resp := s.raw("POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data)
	if resp.status != 503 || resp.header.Get("Retry-After") == "" {
		t.Fatalf("upload during the outage: %d %q (Retry-After %q), want 503 with Retry-After", resp.status, resp.body, resp.header.Get("Retry-After"))
	}
	if n, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q is not a positive number of seconds", resp.header.Get("Retry-After"))
	}
	if resp := s.raw("GET", fmt.Sprintf("/v1/images/%d", up.Image.ID), tokens["ann"], "", nil); resp.status != 503 {
		t.Fatalf("photo during the outage: %d %q, want 503", resp.status, resp.body)
	}
	waitReady(t, s, 503)
	// A job whose S3 source cannot be reached now is the same: 503, not a bad request (issue 13).
	job := photoUpload(nil, "none", map[string]string{"kind": "ingest", "source": "s3://photos/ads", "gallery_id": fmt.Sprint(ads.ID),
		"purpose": "case 9"})
	if resp := s.raw("POST", "/v1/jobs", bootstrap, job.contentType, job.data); resp.status != 503 || resp.header.Get("Retry-After") == "" {
		t.Fatalf("job with an unreachable S3 source: %d %q, want 503 with Retry-After", resp.status, resp.body)
	}

	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s, 200)
	s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], form(t, ph[1], nil), nil)
	if resp := s.raw("GET", fmt.Sprintf("/v1/images/%d", up.Image.ID), tokens["ann"], "", nil); resp.status != 200 {
		t.Fatalf("photo after the outage: %d %q", resp.status, resp.body)
	}
}

// waitReady waits up to 10 s for /readyz to answer want (its result is cached for a second).
func waitReady(t *testing.T, s *service, want int) {
	t.Helper()
	var last rawResponse
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = s.raw("GET", "/readyz", "", "", nil); last.status == want {
			return
		}
	}
	t.Fatalf("/readyz answers %d %s, want %d", last.status, last.body, want)
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// raw sends one request and returns the whole answer, headers included.
func (s *service) raw(method, path, token, contentType string, body []byte) rawResponse {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(data)}
}
