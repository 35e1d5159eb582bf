package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob/s3/s3test"
	"github.com/facematch/facematch/internal/testenv"
)

// The end-to-end test drives the real binary over HTTP with real photos: enrol people, upload
// ad photos, search, review, audit, delete, restart. It runs twice: on the embedded default
// (local directory, SQLite) and with blobs and index segments on a real S3 server.

var binPath string

// buildBinary builds bin/facematch once per test process; under the race detector the binary
// is built with it too, so that the served service's own goroutines are checked end to end.
func buildBinary(t testing.TB) string {
	t.Helper()
	if binPath != "" {
		return binPath
	}
	dir, err := os.MkdirTemp("", "facematch-e2e-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "facematch")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	binPath = out
	return out
}

type service struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	logs   *syncBuffer
	args   []string
	env    []string
	exited chan error
}

// syncBuffer is the service's stderr: the process writes it while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const bootstrap = "e2e-bootstrap-admin-token-0123456789"

func startService(t testing.TB, args []string, env []string) *service {
	t.Helper()
	s := &service{t: t, args: args, env: env}
	s.start()
	return s
}

var servingLine = regexp.MustCompile(`facematch serving on (https?://\S+)`)

func (s *service) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, s.args...)...)
	cmd.Env = append(os.Environ(), append([]string{"FACEMATCH_BOOTSTRAP_TOKEN=" + bootstrap, "FACEMATCH_ASSETS=" + testenv.Assets()}, s.env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.logs = &syncBuffer{}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("service exited before serving:\n%s", s.logs)
			}
			if m := servingLine.FindStringSubmatch(line); m != nil {
				s.url = m[1]
				go func() {
					for range lines {
					}
				}()
				return
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("service did not start in 60 s:\n%s", s.logs)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit (graceful shutdown).
func (s *service) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("service exited with %v:\n%s", err, s.logs)
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("service did not stop in 60 s")
	}
}

func (s *service) call(method, path, token string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case *multipartForm:
		rd, ct = bytes.NewReader(b.data), b.contentType
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 400 && out != nil {
		s.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// mustCall fails the test unless the call answers want.
func (s *service) mustCall(want int, method, path, token string, body, out any) {
	s.t.Helper()
	if got := s.call(method, path, token, body, out); got != want {
		s.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// tokens creates the test's people, as the bootstrap admin: analyst ann, reviewers rev1 and
// rev2, auditor aud. It returns their secrets by name.
func (s *service) tokens() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for name, role := range map[string]string{"ann": "analyst", "rev1": "reviewer", "rev2": "reviewer", "aud": "auditor"} {
		var tok struct {
			Secret string `json:"secret"`
		}
		s.mustCall(201, "POST", "/v1/tokens", bootstrap, map[string]string{"name": name, "role": role}, &tok)
		out[name] = tok.Secret
	}
	return out
}

type multipartForm struct {
	data        []byte
	contentType string
}

func form(t testing.TB, photo string, fields map[string]string) *multipartForm {
	t.Helper()
	img, err := os.ReadFile(data("celebs", photo))
	if err != nil {
		t.Fatal(err)
	}
	return photoUpload(img, filepath.Base(photo), fields)
}

// photoUpload is a multipart form with img in the field "image" and fields.
func photoUpload(img []byte, name string, fields map[string]string) *multipartForm {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("image", name)
	fw.Write(img)
	w.Close()
	return &multipartForm{buf.Bytes(), w.FormDataContentType()}
}

type idObj struct {
	ID int64 `json:"id"`
}

type searchResp struct {
	Search idObj `json:"search"`
	Faces  []struct {
		Candidates []struct {
			FaceID     int64   `json:"face_id"`
			GalleryID  int64   `json:"gallery_id"`
			SubjectID  *int64  `json:"subject_id"`
			ImageID    int64   `json:"image_id"`
			Similarity float64 `json:"similarity"`
			Band       string  `json:"band"`
			Rank       int     `json:"rank"`
			MatchID    int64   `json:"match_id"`
		} `json:"candidates"`
	} `json:"faces"`
}

func TestServeEndToEnd(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	testServeEndToEnd(t, []string{"--data-dir", t.TempDir()}, nil)
}

func TestServeEndToEndS3(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	g := s3test.Start(t)
	cfg := g.Config("e2e", "")
	testServeEndToEnd(t, []string{"--data-dir", t.TempDir(), "--blobs", "s3://e2e/facematch", "--s3-endpoint", cfg.Endpoint, "--s3-insecure"},
		[]string{"FACEMATCH_S3_ACCESS_KEY=" + cfg.AccessKey, "FACEMATCH_S3_SECRET_KEY=" + cfg.SecretKey})
}

// Enrolled people: the first photo goes into the reference gallery, the second into the ad
// collection, the third is the probe. Strangers' photos go into the collection only.
func photos(t testing.TB, person string) []string {
	t.Helper()
	entries, err := os.ReadDir(data("celebs", person))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jpg") {
			out = append(out, person+"/"+e.Name())
		}
	}
	return out
}

func testServeEndToEnd(t *testing.T, args, env []string) {
	s := startService(t, args, env)
	defer func() {
		if s.cmd.ProcessState == nil {
			s.stop()
		}
	}()
	admin := bootstrap
	tokens := s.tokens()
	ann := tokens["ann"]
	var ref, ads idObj
	s.mustCall(201, "POST", "/v1/galleries", admin, map[string]string{"name": "wanted", "kind": "reference"}, &ref)
	s.mustCall(201, "POST", "/v1/galleries", admin, map[string]string{"name": "ads", "kind": "collection"}, &ads)

	people := []string{"Katy_Perry", "Angelina_Jolie", "Mark_Zuckerberg", "Scarlett_Johansson"}
	subject := map[string]int64{}
	adImage := map[int64]string{} // collection image → person
	probes := map[string]string{}
	for _, p := range people {
		ph := photos(t, p)
		var sub idObj
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", ref.ID), ann, map[string]string{"name": strings.ReplaceAll(p, "_", " "), "external_ref": "notice-" + p}, &sub)
		subject[p] = sub.ID
		var up struct {
			Image idObj `json:"image"`
		}
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ref.ID), ann, form(t, ph[0], map[string]string{"subject_id": fmt.Sprint(sub.ID)}), &up)
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), ann, form(t, ph[1], map[string]string{"site": "ads.example", "phones": "+49 151 0000 " + fmt.Sprint(sub.ID)}), &up)
		adImage[up.Image.ID] = p
		probes[p] = ph[2]
	}
	strangerProbes := map[string]string{}
	for _, p := range []string{"Matt_Damon", "Jack_Dorsey"} {
		ph := photos(t, p)
		var up struct {
			Image idObj `json:"image"`
		}
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), ann, form(t, ph[0], nil), &up)
		adImage[up.Image.ID] = p
		strangerProbes[p] = ph[1]
	}

	// Every enrolled person's other photo finds that person first, in the reference gallery
	// and in the ads; no stranger's ad photo reaches the default threshold.
	firstMatch := int64(0)
	for _, p := range people {
		var res searchResp
		s.mustCall(201, "POST", "/v1/searches", ann, form(t, probes[p], map[string]string{"galleries": fmt.Sprintf("%d,%d", ref.ID, ads.ID), "purpose": "e2e case 1"}), &res)
		if len(res.Faces) == 0 || len(res.Faces[0].Candidates) == 0 {
			t.Fatalf("%s: no candidates", p)
		}
		top := res.Faces[0].Candidates[0]
		isPerson := (top.SubjectID != nil && *top.SubjectID == subject[p]) || adImage[top.ImageID] == p
		if !isPerson || top.Band == "low" {
			t.Errorf("%s: top candidate %+v is not them above the threshold", p, top)
		}
		for _, c := range res.Faces[0].Candidates {
			if who := adImage[c.ImageID]; (who == "Matt_Damon" || who == "Jack_Dorsey") && c.Band != "low" {
				t.Errorf("%s: stranger %s at %.3f (%s)", p, who, c.Similarity, c.Band)
			}
		}
		if p == "Katy_Perry" {
			firstMatch = top.MatchID
		}
	}
	for p, probe := range strangerProbes {
		var res searchResp
		s.mustCall(201, "POST", "/v1/searches", ann, form(t, probe, map[string]string{"galleries": fmt.Sprint(ref.ID), "purpose": "e2e case 2"}), &res)
		for _, f := range res.Faces {
			for _, c := range f.Candidates {
				if c.Band != "low" {
					t.Errorf("stranger %s matched subject %v at %.3f (%s)", p, c.SubjectID, c.Similarity, c.Band)
				}
			}
		}
	}

	// Two reviewers confirm; the searcher cannot; nobody decides twice.
	decision := map[string]string{"decision": "potential_candidate", "note": "same face, same tattoo"}
	s.mustCall(403, "POST", fmt.Sprintf("/v1/matches/%d/decisions", firstMatch), ann, decision, nil)
	var m struct {
		Status string `json:"status"`
	}
	s.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", firstMatch), tokens["rev1"], decision, &m)
	if m.Status != "pending" {
		t.Fatalf("after one reviewer: %s", m.Status)
	}
	s.mustCall(409, "POST", fmt.Sprintf("/v1/matches/%d/decisions", firstMatch), tokens["rev1"], decision, nil)
	s.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", firstMatch), tokens["rev2"], decision, &m)
	if m.Status != "potential_candidate" {
		t.Fatalf("after two reviewers: %s", m.Status)
	}

	// The audit log shows each step.
	var audit struct {
		Items []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
		} `json:"items"`
	}
	s.mustCall(200, "GET", "/v1/audit?limit=1000", tokens["aud"], nil, &audit)
	var steps []string
	for _, e := range audit.Items {
		steps = append(steps, e.Actor+":"+e.Action)
	}
	joined := strings.Join(steps, " ")
	for _, want := range []string{"bootstrap-admin:credential.create", "bootstrap-admin:gallery.create", "ann:subject.create", "ann:image.upload",
		"ann:search.create", "ann:access.denied", "rev1:match.decide.refused", "rev1:match.decide", "rev2:match.decide"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}

	// Deleting a subject removes them from later results.
	gone := "Mark_Zuckerberg"
	s.mustCall(204, "DELETE", fmt.Sprintf("/v1/subjects/%d", subject[gone]), admin, nil, nil)
	var res searchResp
	s.mustCall(201, "POST", "/v1/searches", ann, form(t, probes[gone], map[string]string{"galleries": fmt.Sprint(ref.ID), "purpose": "e2e case 3"}), &res)
	for _, f := range res.Faces {
		for _, c := range f.Candidates {
			if c.SubjectID != nil && *c.SubjectID == subject[gone] {
				t.Fatalf("deleted subject returned: %+v", c)
			}
		}
	}

	// A restart keeps the rest.
	s.stop()
	s.start()
	var gal struct {
		Images   int `json:"images"`
		Subjects int `json:"subjects"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/galleries/%d", ref.ID), admin, nil, &gal)
	if gal.Subjects != 3 || gal.Images != 3 {
		t.Fatalf("after restart the reference gallery holds %+v, want 3 subjects and 3 images", gal)
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/matches/%d", firstMatch), tokens["rev1"], nil, &m)
	if m.Status != "potential_candidate" {
		t.Fatalf("after restart the match is %s", m.Status)
	}
	res = searchResp{}
	s.mustCall(201, "POST", "/v1/searches", ann, form(t, probes["Katy_Perry"], map[string]string{"galleries": fmt.Sprint(ref.ID), "purpose": "e2e case 4"}), &res)
	if top := res.Faces[0].Candidates[0]; top.SubjectID == nil || *top.SubjectID != subject["Katy_Perry"] {
		t.Fatalf("after restart the top candidate is %+v", top)
	}
	if logs := s.logs.String(); strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, "DATA RACE") {
		t.Errorf("errors in the service log:\n%s", logs)
	}
}

// skipShort skips the end-to-end tests in the race-detector pass (-short), which runs the same
// code paths through the package tests.
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end through the binary: not in -short")
	}
}
