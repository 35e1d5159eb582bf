package main

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/testenv"
)

// readmeBlocks returns the fenced code blocks of README.md's section titled heading, each as
// its shell lines (continuations joined).
func readmeBlocks(t *testing.T, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	in, fenced := false, false
	var cur []string
	pending := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimPrefix(line, "## ") == heading
		case in && strings.HasPrefix(line, "```"):
			if fenced {
				blocks = append(blocks, cur)
				cur = nil
			}
			fenced = !fenced
		case in && fenced:
			if strings.HasSuffix(line, "\\") {
				pending += strings.TrimSuffix(line, "\\")
				continue
			}
			cur = append(cur, pending+line)
			pending = ""
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("README.md has no code block under %q", heading)
	}
	return blocks
}

// TestReadmeQuickStartThenBatch runs the README as a new operator would: the quick start's
// first command (make run: setup, build, start the service), then the batch section's two
// blocks as written, the API one while the service runs and the command-line one after Ctrl-C.
// Only the placeholders change: the address, the credential (FACEMATCH_BOOTSTRAP_TOKEN, which
// the README names), the data directory and the case's files.
func TestReadmeQuickStartThenBatch(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	quick := readmeBlocks(t, "Quick start")[0]
	if !strings.HasPrefix(quick[0], "make run") {
		t.Fatalf("the quick start's first command is %q, want make run", quick[0])
	}
	batch := readmeBlocks(t, "Batch jobs: ingest and reprocessing")
	if len(batch) < 2 {
		t.Fatalf("the batch section has %d code blocks, want the API one and the command-line one", len(batch))
	}

	// The case: two photos of people and one that is not a photo, zipped and in a folder, and a
	// sidecar with the README's columns.
	dir := t.TempDir()
	photosDir := filepath.Join(dir, "cases", "0412", "photos")
	if err := os.MkdirAll(photosDir, 0o755); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "photos.zip")
	zf, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	files := map[string]string{"ad1.jpg": data("celebs", "Katy_Perry", "img26.jpg"), "ad2.jpg": data("celebs", "Elon_Musk", "img18.jpg")}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(name)
		w.Write(b)
		if err := os.WriteFile(filepath.Join(photosDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create("broken.jpg")
	w.Write([]byte("not a photo"))
	if err := errors.Join(zw.Close(), zf.Close()); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "ads.csv")
	if err := os.WriteFile(csvPath, []byte("file,source_url,site,ad_id,usernames,phones,posted_at,collected_at,case_ref\n"+
		"ad1.jpg,https://ads.example/1,ads.example,1,kitty,+49 151 2345 6789,2026-11-01,,0412\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "readme-admin-credential-0123456789"
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	env := append(os.Environ(), "FACEMATCH_ADDR="+addr, "FACEMATCH_DATA_DIR="+filepath.Join(dir, "var"), "FACEMATCH_BOOTSTRAP_TOKEN="+token, "TOKEN="+token)
	substitute := func(line string) string {
		return strings.NewReplacer("http://127.0.0.1:8080", "http://"+addr, "/cases/0412/photos", photosDir, "/cases/0412/ads.csv", csvPath,
			"@photos.zip", "@"+zipPath, "@ads.csv", "@"+csvPath).Replace(line)
	}
	run := func(line string) string {
		t.Helper()
		cmd := exec.Command("bash", "-c", substitute(line))
		cmd.Dir, cmd.Env = repo, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README line %q: %v\n%s", line, err, out)
		}
		t.Logf("$ %s\n%.300s", line, out)
		return string(out)
	}

	// make run, as the quick start says, in its own process group so that Ctrl-C reaches it all.
	cmd := exec.Command("bash", "-c", quick[0])
	cmd.Dir, cmd.Env = repo, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(dir, "make-run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("make run did not stop on Ctrl-C within a minute")
		}
	}
	defer stop()
	ready := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if r, err := http.Get("http://" + addr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("make run: not ready within 3 minutes\n%s", log)
	}

	// The API block, line by line, while the service runs; the job is waited for before its
	// progress and failed files are read, as an operator would look again.
	api := batch[0]
	for _, line := range api {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.Contains(line, "/v1/jobs/1") {
			waitJobDone(t, addr, token, 1)
		}
		out := run(line)
		if strings.Contains(line, "items?state=failed") && !strings.Contains(out, "broken.jpg") {
			t.Errorf("failed files: %s, want broken.jpg", out)
		}
		if strings.Contains(line, "# progress") {
			var j struct {
				State  string `json:"state"`
				Stored int    `json:"stored"`
				Failed int    `json:"failed"`
			}
			if err := json.Unmarshal([]byte(out), &j); err != nil || j.State != "done" || j.Stored != 2 || j.Failed != 1 {
				t.Errorf("job 1: %s, want done with 2 stored and 1 failed", out)
			}
		}
	}

	// Ctrl-C, then the command-line block on the same data directory.
	stop()
	for _, line := range batch[1] {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out := run(line)
		if strings.Contains(line, "gallery create") && !strings.Contains(out, `"id": 3`) && !strings.Contains(out, `"id":3`) {
			t.Errorf("gallery create printed %s, want gallery 3 as the README says", out)
		}
		if strings.Contains(line, "facematch cluster") && (strings.Count(out, `"faces":2`) != 2 || !strings.Contains(out, `"gallery_id":3`)) {
			t.Errorf("cluster printed %s, want a report of each collection's two faces", out)
		}
		if strings.Contains(line, "facematch hash-photos") && !strings.Contains(out, `"hashed":0`) {
			t.Errorf("hash-photos printed %s, want nothing left to hash (every photo here was hashed when stored)", out)
		}
	}
}

// waitJobDone polls job id until it is no longer queued or running.
func waitJobDone(t *testing.T, addr, token string, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/v1/jobs/%d", addr, id), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err == nil {
			var j struct {
				State string `json:"state"`
			}
			json.NewDecoder(r.Body).Decode(&j)
			r.Body.Close()
			if j.State != "" && j.State != "queued" && j.State != "running" {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("job %d did not finish within 3 minutes", id)
}
