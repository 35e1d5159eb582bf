package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/testenv"
)

// The ingest command on real photos and a real data directory: a kill -9 in the middle of a
// job and a resume end in the same state as an uninterrupted run, and a job through the
// service's API runs in its job runner.

var ingestPeople = []string{"Angelina_Jolie", "Elon_Musk", "Katy_Perry", "Jeff_Bezos", "Jennifer_Aniston"}

// prepareBase starts the service on a fresh data directory, enrols one photo of each person
// into reference gallery 1, creates collection 2, runs an archive job through the API, and
// stops the service.
func prepareBase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := startService(t, []string{"--data-dir", dir}, nil)
	var g, coll, upl idObj
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "wanted", "kind": "reference"}, &g)
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &coll)
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "uploads", "kind": "collection"}, &upl)
	for _, p := range ingestPeople {
		var sub idObj
		s.mustCall(201, "POST", "/v1/galleries/1/subjects", bootstrap, map[string]string{"name": p}, &sub)
		s.mustCall(201, "POST", "/v1/galleries/1/images", bootstrap, form(t, photos(t, p)[0], map[string]string{"subject_id": strconv.FormatInt(sub.ID, 10)}), nil)
	}

	// An operator uploads a tar of ad photos; the service's runner ingests it.
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for i, p := range ingestPeople[:2] {
		b, err := os.ReadFile(data("celebs", photos(t, p)[1]))
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: "ad" + strconv.Itoa(i) + ".jpg", Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.WriteHeader(&tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	tw.Close()
	v := runArchiveJob(t, s, tarBuf.Bytes(), map[string]string{"kind": "ingest", "gallery_id": strconv.FormatInt(upl.ID, 10), "purpose": "e2e", "cross_match": "1"})
	if v.State != engine.JobDone || v.Stored != 2 || v.Failed != 1 || v.Matches < 2 {
		t.Fatalf("API job = %+v, want done with 2 stored, 1 failed (the link) and their matches", v)
	}
	s.stop()
	return dir
}

// runArchiveJob uploads a tar archive as an ingest job (as the bootstrap admin) with the given
// form fields and waits for the job to finish.
func runArchiveJob(t *testing.T, s *service, archive []byte, fields map[string]string) engine.JobView {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("archive", "ads.tar")
	fw.Write(archive)
	w.Close()
	var job engine.Job
	s.mustCall(202, "POST", "/v1/jobs", bootstrap, &multipartForm{buf.Bytes(), w.FormDataContentType()}, &job)
	deadline := time.Now().Add(60 * time.Second)
	var v engine.JobView
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s.mustCall(200, "GET", "/v1/jobs/"+strconv.FormatInt(job.ID, 10), bootstrap, nil, &v)
		if v.State.Finished() {
			break
		}
	}
	return v
}

// tarOf archives files (name → path) into a tar.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ingestSource is a tree of ad photos: several of each reference person, LFW strangers, and
// bad files.
func ingestSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	put := func(name string, b []byte) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ingestPeople {
		for _, ph := range photos(t, p)[1:] {
			b, _ := os.ReadFile(data("celebs", ph))
			put("celebs/"+ph, b)
		}
	}
	people, _ := os.ReadDir(data("lfw"))
	n := 0
	for _, d := range people {
		if !d.IsDir() || n >= 120 {
			continue
		}
		files, _ := filepath.Glob(data("lfw", d.Name(), "*.jpg"))
		for _, f := range files[:min(2, len(files))] {
			b, _ := os.ReadFile(f)
			put("lfw/"+filepath.Base(f), b)
			n++
		}
	}
	put("bad/truncated.jpg", []byte("\xff\xd8\xff\xe0 truncated"))
	put("bad/page.jpg", []byte("<!doctype html><p>ad removed</p>"))
	os.Symlink("/etc/shadow", filepath.Join(dir, "bad", "shadow.jpg"))
	return dir
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func ingestCmd(t *testing.T, dataDir, src string) *exec.Cmd {
	cmd := exec.Command(buildBinary(t), "ingest", src, "--gallery", "2", "--cross-match", "1", "--purpose", "case 9",
		"--data-dir", dataDir, "--quiet")
	cmd.Env = append(os.Environ(), "FACEMATCH_ASSETS="+testenv.Assets())
	return cmd
}

// openDataCatalog opens a data directory's metadata database beside (or after) the service;
// it is closed when the test ends.
func openDataCatalog(t testing.TB, dataDir string) *catalog.DB {
	t.Helper()
	cat, err := catalog.Open(context.Background(), filepath.Join(dataDir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// stateOf reads what the ingest left in gallery 2: each file's outcome, the faces, and each
// proposed (file, person) pair.
func stateOf(t *testing.T, dataDir string) (items map[string]string, faces int, matches []string) {
	t.Helper()
	ctx := context.Background()
	cat := openDataCatalog(t, dataDir)
	jobs, err := cat.Jobs(ctx, engine.JobFilter{GalleryID: 2})
	if err != nil || len(jobs) != 1 || jobs[0].State != engine.JobDone {
		t.Fatalf("jobs of gallery 2 = %+v, %v; want one, done", jobs, err)
	}
	items = map[string]string{}
	fileOf := map[int64]string{}
	list, err := cat.JobItems(ctx, jobs[0].ID, "", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list {
		items[it.Name] = string(it.State)
		if it.ImageID != nil {
			fileOf[*it.ImageID] = it.Name
		}
	}
	g, err := cat.Gallery(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.Images != jobs[0].Stored {
		t.Errorf("gallery 2 holds %d images, the job stored %d", g.Images, jobs[0].Stored)
	}
	for cursor := int64(0); ; {
		ms, err := cat.Matches(ctx, engine.MatchFilter{SearchID: *jobs[0].SearchID, Cursor: cursor, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			// A collection's job proposes a person once per subject; which of its photos is the
			// item's probe depends on which batch saw the best pair first, so the state is every
			// photo behind an item (each hit is behind exactly one).
			s, err := cat.Subject(ctx, *m.SubjectID)
			if err != nil {
				t.Fatal(err)
			}
			support, err := cat.MatchSupport(ctx, m.ID, 1000)
			if err != nil || len(support) == 0 {
				t.Fatalf("item %d: %d photos behind it, %v", m.ID, len(support), err)
			}
			for _, h := range support {
				matches = append(matches, fileOf[h.ImageID]+" → "+s.Name)
			}
		}
		if len(ms) < 500 {
			break
		}
		cursor = ms[len(ms)-1].ID
	}
	sort.Strings(matches)
	return items, g.Faces, matches
}

func TestIngestKilledAndResumedEqualsUninterrupted(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	base := prepareBase(t)
	src := ingestSource(t)

	straight := copyTree(t, base)
	if out, err := ingestCmd(t, straight, src).CombinedOutput(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}

	killed := copyTree(t, base)
	cmd := ingestCmd(t, killed, src)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill -9 once some files are committed and many are not.
	deadline := time.Now().Add(2 * time.Minute)
	for processed := 0; processed < 20; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the job made no progress in 2 minutes:\n%s", logs.String())
		}
		processed = processedOf(t, killed)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	at := processedOf(t, killed)
	if out, err := ingestCmd(t, killed, src).CombinedOutput(); err != nil || !strings.Contains(string(out), "running, "+strconv.Itoa(at)+" of") {
		t.Fatalf("resume after kill -9 at %d files: %v\n%s", at, err, out)
	}

	wantItems, wantFaces, wantMatches := stateOf(t, straight)
	items, faces, matches := stateOf(t, killed)
	t.Logf("killed at %d of %d files; %d faces, %d matches", at, len(wantItems), wantFaces, len(wantMatches))
	if at >= len(wantItems) {
		t.Fatalf("the kill came after the job finished (%d files)", at)
	}
	if len(items) != len(wantItems) || faces != wantFaces || strings.Join(matches, "\n") != strings.Join(wantMatches, "\n") {
		t.Fatalf("killed at %d files then resumed: %d items, %d faces, %d matches; uninterrupted: %d items, %d faces, %d matches\n%v\n%v",
			at, len(items), faces, len(matches), len(wantItems), wantFaces, len(wantMatches), matches, wantMatches)
	}
	for name, st := range wantItems {
		if items[name] != st {
			t.Errorf("%s: %s after the kill, %s uninterrupted", name, items[name], st)
		}
	}
	for _, bad := range []string{"bad/truncated.jpg", "bad/page.jpg", "bad/shadow.jpg"} {
		if items[bad] != "failed" {
			t.Errorf("%s: %q, want failed", bad, items[bad])
		}
	}
	if len(wantMatches) < len(ingestPeople) {
		t.Errorf("only %d matches: the reference people's ad photos should each be proposed", len(wantMatches))
	}
}

// processedOf reads the job's progress from the catalog while the ingest runs (SQLite in WAL
// mode lets a reader in beside the writer).
func processedOf(t *testing.T, dataDir string) int {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, "metadata.db")); err != nil {
		return 0
	}
	cat, err := catalog.Open(context.Background(), filepath.Join(dataDir, "metadata.db"))
	if err != nil {
		return 0
	}
	defer cat.Close()
	js, err := cat.Jobs(context.Background(), engine.JobFilter{GalleryID: 2})
	if err != nil || len(js) == 0 {
		return 0
	}
	return js[0].Processed
}
