package s3

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Credentials of the root user of every test gateway.
const (
	testAccessKey = "facematch-test"
	testSecretKey = "facematch-test-secret-key"
)

// findVersitygw returns the versitygw binary that scripts/versitygw installs: $FACEMATCH_VERSITYGW,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/facematch/bin/versitygw.
func findVersitygw() (string, error) {
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

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// gateway is a versitygw process serving dataDir on addr: an owned child process, ended by
// kill (or shutdown) and always waited for.
type gateway struct {
	addr    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited and been waited for
	waitErr error         // set before done is closed
}

// startGateway starts versitygw with the posix backend (versioning enabled through
// versioningDir) and waits up to 10 s for its health endpoint.
func startGateway(bin, addr, dataDir, versioningDir, logPath string) (*gateway, error) {
	for _, d := range []string{dataDir, versioningDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(bin, "--port", addr, "--health", "/health", "--quiet",
		"posix", "--versioning-dir", versioningDir, dataDir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+testAccessKey, "ROOT_SECRET_ACCESS_KEY="+testSecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	g := &gateway{addr: addr, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { // owned: ends when the process does; kill and shutdown wait for it
		g.waitErr = cmd.Wait()
		close(g.done)
	}()
	if err := g.waitHealthy(10 * time.Second); err != nil {
		g.kill()
		return nil, err
	}
	return g, nil
}

func (g *gateway) waitHealthy(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
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
		case <-g.done:
			return fmt.Errorf("versitygw exited before it was ready (%v); its log:\n%s", g.waitErr, g.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw on %s not healthy after %v: %v; its log:\n%s", g.addr, limit, err, g.log())
		}
	}
}

func (g *gateway) log() string {
	b, _ := os.ReadFile(g.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill stops the process at once (SIGKILL, as a crash) and waits for it. Idempotent.
func (g *gateway) kill() {
	if err := g.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "killing versitygw: %v\n", err)
	}
	<-g.done
}

// shutdown asks the process to stop (SIGTERM), and kills it after 5 s. Idempotent.
func (g *gateway) shutdown() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		g.kill()
	}
}
