package scalebench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one `facematch serve` process on the data directory, on a loopback port.
type server struct {
	cmd     *exec.Cmd
	url     string
	log     string // the service's log file, appended to by every start
	logFrom int64  // where this start's lines begin
	done    chan error
	once    sync.Once
	stopErr error
}

// startServer starts bin serve on dir and waits until /readyz answers: the service answers
// only after it has reconciled its index with the catalog, so the wait is the restart (or,
// after a bulk load, the index build).
func startServer(ctx context.Context, cfg Config, bootstrap string) (*server, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.OpenFile(filepath.Join(cfg.DataDir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("scalebench: %w", err)
	}
	logFrom, _ := logf.Seek(0, io.SeekEnd)
	args := []string{"serve", "--addr", addr, "--data-dir", cfg.DataDir}
	if cfg.MemoryBudget != "" {
		args = append(args, "--memory-budget", cfg.MemoryBudget)
	}
	args = append(args, cfg.ServeArgs...)
	cmd := exec.Command(cfg.Bin, args...)
	cmd.Env = append(append(os.Environ(), cfg.Env...), "FACEMATCH_BOOTSTRAP_TOKEN="+bootstrap)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, fmt.Errorf("scalebench: starting %s: %w", cfg.Bin, err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, log: logf.Name(), logFrom: logFrom, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	deadline := time.After(cfg.ReadyTimeout)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return nil, 0, fmt.Errorf("scalebench: the service exited before it was ready (%v); see %s", err, logf.Name())
		case <-deadline:
			s.stop()
			return nil, 0, fmt.Errorf("scalebench: the service was not ready within %s; see %s", cfg.ReadyTimeout, logf.Name())
		case <-ctx.Done():
			s.stop()
			return nil, 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, time.Since(start), nil
			}
		}
	}
}

// stop ends the service as an operator would (SIGTERM: it flushes its index) and waits; a
// second call returns the first's result.
func (s *server) stop() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.stopErr = <-s.done:
		case <-time.After(10 * time.Minute):
			_ = s.cmd.Process.Kill()
			s.stopErr = errors.New("scalebench: the service did not stop within 10 minutes")
		}
	})
	return s.stopErr
}

// statusError is an API answer outside 2xx.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("scalebench: %s %s: %d %s", e.method, e.path, e.status, e.body)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("scalebench: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// client speaks the REST API with one credential.
type client struct {
	base, token string
	http        *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, http: &http.Client{Timeout: 5 * time.Minute}}
}

// do sends body and decodes a 2xx answer's JSON into out (nil: discarded).
func (c *client) do(ctx context.Context, method, path string, body []byte, ct string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("scalebench: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("scalebench: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return &statusError{method, path, resp.StatusCode, string(bytes.TrimSpace(data))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (c *client) json(ctx context.Context, method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	return c.do(ctx, method, path, b, "application/json", out)
}

// photo posts a photo as the multipart form the API takes, with fields.
func (c *client) photo(ctx context.Context, path string, data []byte, fields map[string]string, out any) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("image", "photo.jpg")
	_, _ = fw.Write(data)
	_ = w.Close()
	return c.do(ctx, "POST", path, buf.Bytes(), w.FormDataContentType(), out)
}

// indexEvents counts the distinct segments (seq) of this start's log lines with msg (the
// index logs "segment graph built" and "segment persisted" with the segment's seq).
func (s *server) indexEvents(msg string) (int, error) {
	f, err := os.Open(s.log)
	if err != nil {
		return 0, fmt.Errorf("scalebench: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(s.logFrom, io.SeekStart); err != nil {
		return 0, fmt.Errorf("scalebench: %w", err)
	}
	seqs := map[int64]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			Seq int64  `json:"seq"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			seqs[line.Seq] = true
		}
	}
	return len(seqs), sc.Err()
}

// sealedSegments is the index's sealed segment count from /metrics (all models together).
func sealedSegments(ctx context.Context, admin *client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", admin.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+admin.token)
	resp, err := admin.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scalebench: /metrics: %w", err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "facematch_index_segments{"); ok {
			_, v, _ := strings.Cut(rest, "} ")
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("scalebench: /metrics: %q", sc.Text())
			}
			n += int(f)
		}
	}
	return n, sc.Err()
}

// waitPersisted waits until every sealed segment has been stored with its graph: the service's
// stop flushes for a minute at most, and a segment left unstored is rebuilt, from the WAL, by
// the next start, behind the searches it should not slow.
func (s *server) waitPersisted(ctx context.Context, admin *client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		sealed, err := sealedSegments(ctx, admin)
		if err != nil {
			return err
		}
		stored, err := s.indexEvents("segment persisted")
		if err != nil {
			return err
		}
		if stored >= sealed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scalebench: %d of %d sealed segments stored after %s", stored, sealed, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
