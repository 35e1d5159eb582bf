// Package s3test runs Versity's versitygw, a real S3 server, for tests: an owned child process
// serving a directory on 127.0.0.1 with versioning enabled, which a test can stop, kill and
// restart on the same port and data to simulate an outage.
//
// In-process fakes (gofakes3, s3rver) corrupt large multipart uploads, so the S3 tests of every
// package use this instead. The binary is the one scripts/versitygw installs (see
// [FindVersitygw]); a missing binary fails the test with instructions, it is never skipped.
//
// Typical use:
//
//	g := s3test.Start(t)                             // stopped and cleaned up by t.Cleanup
//	s, err := s3.Open(ctx, g.Config("bucket", "prefix"))
//	...
//	g.Kill()                                         // the server crashes
//	...
//	if err := g.Restart(); err != nil { t.Fatal(err) } // same port, same data
package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/s3"
)

// Credentials of the root user of every test gateway.
const (
	AccessKey = "facematch-test"
	SecretKey = "facematch-test-secret-key"
)

// FindVersitygw returns the versitygw binary that scripts/versitygw installs: $FACEMATCH_VERSITYGW,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/facematch/bin/versitygw.
func FindVersitygw() (string, error) {
	bin := os.Getenv("FACEMATCH_VERSITYGW")
	if bin == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("finding versitygw: %w", err)
		}
		bin = filepath.Join(cache, "facematch", "bin", "versitygw")
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("the S3 tests need Versity's versitygw, a real S3 server, and there is none at %s:\n"+
			"run scripts/versitygw (it builds it once into that folder and prints its path), "+
			"or set FACEMATCH_VERSITYGW to a versitygw binary", bin)
	}
	return bin, nil
}

// An Option changes how Start and Launch run the gateway.
type Option func(*options)

type options struct {
	dir string
	bin string
}

// WithDir keeps the gateway's data, version store and log under dir (created if needed), which
// outlives the gateway. Default: a fresh temporary directory, removed when the gateway is closed.
func WithDir(dir string) Option { return func(o *options) { o.dir = dir } }

// WithBinary runs the versitygw at path instead of the one FindVersitygw finds.
func WithBinary(path string) Option { return func(o *options) { o.bin = path } }

// Gateway is a versitygw process serving one directory on a fixed 127.0.0.1 port. It is safe
// for concurrent use: Kill may be called, say, from inside a request body's Read.
type Gateway struct {
	bin     string
	addr    string
	dir     string
	ownsDir bool

	// mu serialises start, stop and close; proc is the running process, nil while stopped.
	mu     sync.Mutex
	proc   *process
	closed bool
}

// process is one run of the gateway: an owned child, always waited for by the goroutine that
// startProcess starts.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited and been waited for
	waitErr error         // set before done is closed
}

// Start starts a gateway for t (failing t if it cannot) and registers its Close with
// t.Cleanup. Its directory is t.TempDir() unless WithDir says otherwise.
func Start(t testing.TB, opts ...Option) *Gateway {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.dir == "" {
		// Registered before Close, so removed after it (cleanups run last-in, first-out).
		opts = append(opts, WithDir(t.TempDir()))
	}
	g, err := Launch(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// Launch starts a gateway outside a test (in TestMain, say); the caller must Close it. It
// returns once the gateway answers its health check (within 10 s).
func Launch(opts ...Option) (*Gateway, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.bin == "" {
		bin, err := FindVersitygw()
		if err != nil {
			return nil, err
		}
		o.bin = bin
	}
	g := &Gateway{bin: o.bin, dir: o.dir}
	if g.dir == "" {
		dir, err := os.MkdirTemp("", "facematch-versitygw-")
		if err != nil {
			return nil, fmt.Errorf("s3test: %w", err)
		}
		g.dir, g.ownsDir = dir, true
	}
	// The port is free when chosen but may be taken before versitygw binds it (by another test
	// process doing the same): then the process exits at once, and a new port is tried.
	var err error
	for range 3 {
		if g.addr, err = freeAddr(); err != nil {
			break
		}
		if g.proc, err = g.startProcess(); err == nil {
			return g, nil
		}
		if !errors.Is(err, errExited) {
			break
		}
	}
	if g.ownsDir {
		os.RemoveAll(g.dir)
	}
	return nil, err
}

// errExited: the process ended before it was healthy (a taken port, say).
var errExited = errors.New("exited before it was ready")

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("s3test: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Endpoint is the gateway's host:port, for s3.Config.Endpoint. It stays the same across
// restarts.
func (g *Gateway) Endpoint() string { return g.addr }

// Dir is the directory holding the gateway's data ("data"), version store ("versions") and
// log ("versitygw.log").
func (g *Gateway) Dir() string { return g.dir }

// Config returns a store configuration for bucket on this gateway, with the root user's
// credentials and default tuning. Create the bucket with s3.Store.EnsureBucket.
func (g *Gateway) Config(bucket, prefix string) s3.Config {
	return s3.Config{
		Endpoint:  g.addr,
		Bucket:    bucket,
		Prefix:    prefix,
		AccessKey: AccessKey,
		SecretKey: SecretKey,
	}
}

// startProcess starts versitygw with the posix backend (versioning enabled through the
// versions directory) and waits up to 10 s for its health endpoint. The caller holds mu, or
// is Launch (before g is shared).
func (g *Gateway) startProcess() (*process, error) {
	data, versions := filepath.Join(g.dir, "data"), filepath.Join(g.dir, "versions")
	for _, d := range []string{data, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("s3test: %w", err)
		}
	}
	logf, err := os.OpenFile(g.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(g.bin, "--port", g.addr, "--health", "/health", "--quiet",
		"posix", "--versioning-dir", versions, data)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+AccessKey, "ROOT_SECRET_ACCESS_KEY="+SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3test: starting %s: %w", g.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { // owned: ends when the process does; kill and stop wait for it
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := g.waitHealthy(p, 10*time.Second); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func (g *Gateway) waitHealthy(p *process, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get("http://" + g.addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-p.done:
			return fmt.Errorf("s3test: versitygw on %s %w (%v); its log:\n%s", g.addr, errExited, p.waitErr, g.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s3test: versitygw on %s not healthy after %v: %v; its log:\n%s", g.addr, limit, err, g.Log())
		}
	}
}

func (g *Gateway) logPath() string { return filepath.Join(g.dir, "versitygw.log") }

// Log returns the tail of the gateway's log (all its runs), for failure messages.
func (g *Gateway) Log() string {
	b, _ := os.ReadFile(g.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill stops the process at once (SIGKILL, as a crash) and waits for it.
func (p *process) kill() {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "s3test: killing versitygw: %v\n", err)
	}
	<-p.done
}

// stop asks the process to end (SIGTERM) and kills it after 5 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

// Kill ends the gateway at once with SIGKILL, as a crash, and waits for the process to exit.
// Requests in flight fail; the data stays for Restart. It does nothing when already stopped.
func (g *Gateway) Kill() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc != nil {
		g.proc.kill()
		g.proc = nil
	}
}

// Stop ends the gateway gracefully (SIGTERM, SIGKILL after 5 s) and waits for the process to
// exit. The data stays for Restart. It does nothing when already stopped.
func (g *Gateway) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc != nil {
		g.proc.stop()
		g.proc = nil
	}
}

// Restart stops the gateway if it runs and starts it again on the same port and data, returning
// once it is healthy. It fails if the port was taken meanwhile or the gateway is closed.
func (g *Gateway) Restart() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("s3test: restart of a closed gateway")
	}
	if g.proc != nil {
		g.proc.stop()
		g.proc = nil
	}
	p, err := g.startProcess()
	if err != nil {
		return err
	}
	g.proc = p
	return nil
}

// Close stops the gateway and removes its directory if Launch created it. Idempotent.
func (g *Gateway) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc != nil {
		g.proc.stop()
		g.proc = nil
	}
	if !g.closed && g.ownsDir {
		os.RemoveAll(g.dir)
	}
	g.closed = true
}

// Client returns a minio-go client for the gateway's root user, for what the blob.Store
// interface does not show: object versions, delete markers, raw keys.
func (g *Gateway) Client() (*minio.Client, error) {
	c, err := minio.New(g.addr, &minio.Options{
		Creds:  credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region: s3.DefaultRegion,
	})
	if err != nil {
		return nil, fmt.Errorf("s3test: client: %w", err)
	}
	return c, nil
}

// Versions lists every version and delete marker of every object in bucket whose key starts
// with prefix (raw keys: a store's Config.Prefix included), drained to the end.
func (g *Gateway) Versions(ctx context.Context, bucket, prefix string) ([]minio.ObjectInfo, error) {
	c, err := g.Client()
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []minio.ObjectInfo
	for obj := range c.ListObjects(lctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			if err == nil {
				err = fmt.Errorf("s3test: listing versions in %s/%s: %w", bucket, prefix, obj.Err)
			}
			cancel() // stop the producer; keep draining so its goroutine ends
			continue
		}
		if err == nil {
			out = append(out, obj)
		}
	}
	return out, err
}

// ReadVersion returns the bytes of one version of the object at the raw key. A version that
// does not exist (deleted since it was listed, say) gives an error wrapping blob.ErrNotFound.
func (g *Gateway) ReadVersion(ctx context.Context, bucket, key, versionID string) ([]byte, error) {
	c, err := g.Client()
	if err != nil {
		return nil, err
	}
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{VersionID: versionID})
	if err == nil {
		defer obj.Close()
		var data []byte
		if data, err = io.ReadAll(obj); err == nil { // GetObject is lazy: a missing version shows here
			return data, nil
		}
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion") {
		err = fmt.Errorf("%w: %w", blob.ErrNotFound, err)
	}
	return nil, fmt.Errorf("s3test: read %s/%s@%s: %w", bucket, key, versionID, err)
}
