// Package pgtest runs a real PostgreSQL server for tests: Debian's postgresql binaries (initdb,
// postgres) as an owned child process, on a free 127.0.0.1 port, with its data in a temporary
// directory. A test binary shares one server (Shared) and each test gets a fresh database
// (NewDB, dropped with the test); a test that stops the server (an outage) starts its own
// (Start), which it can Stop, Start again on the same port and data, or Kill.
//
// The binaries are the ones scripts/postgres installs (see FindBin); none fails the test with
// instructions, it is never skipped. As root (initdb refuses to run as root) the server runs as
// the postgres system user the Debian package creates.
//
// Durability is PostgreSQL's default (fsync on) unless WithoutFsync says otherwise: tests of
// commits that must survive a crash mean what they say.
//
// Typical use:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) } // stops the shared server
//
//	dsn := pgtest.Shared(t).NewDB(t)                         // a fresh database, dropped after t
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the server's superuser, the user initdb made; it connects without a password
// (trust authentication: the server listens on 127.0.0.1 only).
const Superuser = "postgres"

// FindBin returns the directory of PostgreSQL's server binaries: $FACEMATCH_POSTGRES, else
// `pg_config --bindir`, else Debian's /usr/lib/postgresql/<version>/bin (the newest).
func FindBin() (string, error) {
	var tried []string
	if dir := os.Getenv("FACEMATCH_POSTGRES"); dir != "" {
		if hasServer(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("pgtest: FACEMATCH_POSTGRES=%s holds no initdb and postgres; run scripts/postgres, which installs Debian's postgresql and prints its bin directory", dir)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if hasServer(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if hasServer(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("pgtest: the PostgreSQL tests need a real PostgreSQL server (initdb and postgres), and none was found (tried %q):\n"+
		"run scripts/postgres (it installs Debian's postgresql if missing and prints its bin directory), "+
		"or set FACEMATCH_POSTGRES to a directory holding initdb and postgres", tried)
}

func hasServer(dir string) bool {
	for _, b := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// version is the major version in a Debian bin path (…/postgresql/15/bin → 15).
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// An Option changes how Launch runs the server.
type Option func(*options)

type options struct{ fsync bool }

// WithoutFsync turns fsync off: faster commits, and a crash of the machine (not of the server)
// may lose them. For suites that never test durability.
func WithoutFsync() Option { return func(o *options) { o.fsync = false } }

// Server is a PostgreSQL server on a fixed 127.0.0.1 port. It is safe for concurrent use.
type Server struct {
	bin, dir string
	port     int
	cred     *syscall.Credential // the postgres user's, when we run as root
	fsync    bool

	// mu serialises start, stop and close; proc is the postmaster, nil while stopped.
	mu     sync.Mutex
	proc   *exec.Cmd
	done   chan struct{} // closed when proc has exited
	closed bool
	dbs    atomic.Int64 // numbers the databases NewDB makes
}

// Launch initialises a data directory and starts a server on it, returning once it accepts
// connections. The caller must Close it.
func Launch(opts ...Option) (*Server, error) {
	o := options{fsync: true}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, fsync: o.fsync}
	if s.dir, err = os.MkdirTemp("", "facematch-postgres-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		if s.cred, err = postgresUser(); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// The port is free when chosen but may be taken before postgres binds it: then it exits at
	// once and another is tried.
	for range 3 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.Start(); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(s.dir)
	return nil, err
}

// postgresUser is the credential of the postgres system user (Debian's package makes it).
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and initdb refuses root, so the server runs as the postgres user, which is missing (run scripts/postgres): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// Start starts the server again after Stop or Kill, on the same port and data; it returns once
// the server accepts connections (within 30 s; after a Kill it first waits for the dead
// server's backends to let go of its shared memory).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("pgtest: server closed")
	}
	if s.proc != nil {
		return nil
	}
	fsync := "on"
	if !s.fsync {
		fsync = "off"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-p", strconv.Itoa(s.port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
			"-c", "fsync="+fsync, "-c", "max_connections=300", "-c", "log_min_messages=fatal")
		log, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = procAttr(s.cred)
		if err := cmd.Start(); err != nil {
			log.Close()
			return fmt.Errorf("pgtest: start postgres: %w", err)
		}
		log.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		err = s.waitReady(done)
		if err == nil {
			s.proc, s.done = cmd, done
			return nil
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if time.Now().After(deadline) {
			tail, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("pgtest: postgres did not start: %w\n%s", err, tail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReady polls until the server accepts a connection, or exits, or 10 s pass.
func (s *Server) waitReady(exited chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited")
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (fast shutdown: sessions are disconnected) and waits.
func (s *Server) Stop() error { return s.signal(syscall.SIGINT, false) }

// Kill kills the server and its backends at once, as a crash would, and returns once they are
// all gone.
func (s *Server) Kill() error { return s.signal(syscall.SIGKILL, true) }

func (s *Server) signal(sig syscall.Signal, group bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	pid := s.proc.Process.Pid
	var backends []int
	if group {
		backends = children(pid)
		for _, b := range backends {
			syscall.Kill(b, sig)
		}
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-s.proc.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	// A crash is over when its backends are gone too: their sockets close with them.
	for _, b := range backends {
		for syscall.Kill(b, 0) == nil && !zombie(b) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.proc, s.done = nil, nil
	return nil
}

// Close stops the server and removes its data.
func (s *Server) Close() {
	s.Stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN is the superuser's connection string for database db.
func (s *Server) DSN(db string) string { return s.DSNAs(Superuser, "", db) }

// DSNAs is a connection string for database db as user (with password, if not empty).
func (s *Server) DSNAs(user, password, db string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/" + db,
		RawQuery: "sslmode=disable&connect_timeout=5"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// Exec runs SQL as the superuser in database db (server-wide statements: roles, databases).
func (s *Server) Exec(ctx context.Context, db, sql string) error {
	c, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// NewDB creates an empty database for t, dropped (its sessions ended) when t ends, and returns
// the superuser's DSN for it.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	ctx := context.Background()
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return s.DSN(name)
}

// Start launches a server of t's own (failing t if it cannot), closed with t: for tests that
// stop or kill it.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Launch(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Shared returns the test binary's shared server, launching it on first use (failing t if it
// cannot). Main closes it; tests must not stop it.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.s, shared.err = Launch() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.s
}

// Main runs the tests and closes the shared server if one was launched; call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.s != nil {
		shared.s.Close()
	}
	return code
}
