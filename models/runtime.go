package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facematch/facematch/face"
)

var (
	// ErrChecksum means a model or library file does not have the sha256 its manifest names.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnknownModel means a model name is not in [face.Builtin] or has the wrong role.
	ErrUnknownModel = errors.New("unknown model")
	// ErrRuntimeOpen means a second Runtime was opened while one is live: ONNX Runtime's
	// environment is process-wide.
	ErrRuntimeOpen = errors.New("onnx runtime already open in this process")
)

// ORTLibrarySHA256 pins libonnxruntime.so.1 1.24.1 (linux x64) from npm onnxruntime-node.
const ORTLibrarySHA256 = "53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4"

// RuntimeConfig configures [Open].
type RuntimeConfig struct {
	// Library is the path of libonnxruntime.so.1 (scripts/setup puts it in .assets/lib).
	Library string
	// LibrarySHA256 is checked before the library is loaded; empty means ORTLibrarySHA256.
	// "-" skips the check (for a library built for another architecture).
	LibrarySHA256 string
	// ModelDir holds the model files named by the manifests.
	ModelDir string
	// Threads is ONNX Runtime's intra-op thread count per session, unless a detector's or
	// recognizer's own config says otherwise. Zero means runtime.GOMAXPROCS(0), so it follows
	// the machine (and a container's CPU quota).
	Threads int
}

// Validate reports every problem with the configuration at once.
func (c RuntimeConfig) Validate() error {
	var errs []error
	if c.Library == "" {
		errs = append(errs, errors.New("runtime: Library is required"))
	}
	if c.ModelDir == "" {
		errs = append(errs, errors.New("runtime: ModelDir is required"))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("runtime: Threads must be >= 0, got %d", c.Threads))
	}
	return errors.Join(errs...)
}

// Runtime owns the process-wide ONNX Runtime environment and the sessions created from it.
// It is safe for concurrent use. Close it once every Detector and Recognizer is done.
type Runtime struct {
	cfg RuntimeConfig

	mu       sync.Mutex // guards sessions and closed
	sessions []*session
	closed   bool
}

var runtimeOpen sync.Mutex // held while a Runtime is open: ORT's environment is global

// Open verifies and loads the ONNX Runtime library and initialises its environment.
func Open(cfg RuntimeConfig) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Threads == 0 {
		cfg.Threads = runtime.GOMAXPROCS(0)
	}
	want := cfg.LibrarySHA256
	if want == "" {
		want = ORTLibrarySHA256
	}
	if want != "-" {
		// The library is 35 MB; hashing it costs ~0.1 s once per process, which is cheap
		// insurance against a swapped shared object.
		if _, err := LoadVerified(cfg.Library, want); err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
	}
	if !runtimeOpen.TryLock() {
		return nil, ErrRuntimeOpen
	}
	ort.SetSharedLibraryPath(cfg.Library)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		runtimeOpen.Unlock()
		return nil, fmt.Errorf("runtime: initialise onnx runtime: %w", err)
	}
	return &Runtime{cfg: cfg}, nil
}

// Threads is the intra-op thread count each session uses.
func (r *Runtime) Threads() int { return r.cfg.Threads }

// Close destroys every session and the environment. Calls after the first are no-ops.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, s := range r.sessions {
		errs = append(errs, s.destroy())
	}
	r.sessions = nil
	errs = append(errs, ort.DestroyEnvironment())
	runtimeOpen.Unlock()
	return errors.Join(errs...)
}

func (r *Runtime) manifest(name string, role face.Role) (face.Manifest, error) {
	m, ok := face.Builtin[name]
	if !ok || m.Role != role {
		return face.Manifest{}, fmt.Errorf("models: %w: %q is not a %s (have %s)", ErrUnknownModel, name, role, namesOf(role))
	}
	return m, nil
}

func namesOf(role face.Role) string {
	var names []string
	for _, n := range []string{face.YuNetS, face.YuNetN, face.RetinaFace, face.Faceplugin512, face.Dlib128, face.AgeGenderFaceAPI} {
		if face.Builtin[n].Role == role {
			names = append(names, n)
		}
	}
	return fmt.Sprint(names)
}

// openSession loads a verified model file into a new ONNX Runtime session.
func (r *Runtime) openSession(m face.Manifest, keepDenormals bool, threads int) (*session, error) {
	if threads == 0 {
		threads = r.cfg.Threads
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("models: runtime is closed")
	}
	data, err := LoadVerified(filepath.Join(r.cfg.ModelDir, m.File), m.SHA256)
	if err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("models: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("models: intra-op threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("models: inter-op threads: %w", err)
	}
	// ORT's pool threads spin for a while after each run by default. With several models run
	// one after another (detect, then embed) on a few cores, the detector's spinning threads
	// steal the embedder's cores: measured on 2 cores, one LFW photo took 15.7 ms with spinning
	// and 10.6 ms on one thread (bench/RESULTS.md).
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, fmt.Errorf("models: spinning option: %w", err)
	}
	ftz := m.Denormals && !keepDenormals
	if ftz {
		// Reaches ORT's own pool threads only; the calling thread is handled in session.run.
		if err := opts.AddSessionConfigEntry("session.set_denormal_as_zero", "1"); err != nil {
			return nil, fmt.Errorf("models: denormal option: %w", err)
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{m.Input}, m.Outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("models: open %s: %w", m.File, err)
	}
	sess := &session{s: s, manifest: m, flushDenormals: ftz}
	r.sessions = append(r.sessions, sess)
	return sess, nil
}

// session is one ONNX Runtime session.
//
// Sharing: ONNX Runtime documents OrtSession::Run as safe to call from several threads at
// once, and onnxruntime_go's DynamicAdvancedSession keeps no per-run state on the Go side
// (inputs and outputs are passed per call), so one session per model serves every goroutine,
// with no lock and no pool. Parallelism comes from ORT's intra-op threads (RuntimeConfig.Threads)
// and, in batch work, from several goroutines calling run at once.
type session struct {
	s              *ort.DynamicAdvancedSession
	manifest       face.Manifest
	flushDenormals bool
}

// run executes the model on inputs, filling outputs (nil entries are allocated by ORT and must
// be destroyed by the caller). A cancelled ctx terminates the run through ORT's RunOptions.
func (s *session) run(ctx context.Context, inputs, outputs []ort.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	opts, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("models: run options: %w", err)
	}
	defer opts.Destroy()
	stop := context.AfterFunc(ctx, func() { _ = opts.Terminate() })
	defer stop()

	if s.flushDenormals {
		// With intra-op threads ORT also computes on the calling OS thread, which Go picks and
		// may change between calls: pin it and set FTZ/DAZ for the duration of the run.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		restore := flushDenormalsOnThisThread()
		defer restore()
	}
	if err := s.s.RunWithOptions(inputs, outputs, opts); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("models: %s: %w", s.manifest.Name, ctx.Err())
		}
		return fmt.Errorf("models: run %s: %w", s.manifest.Name, err)
	}
	return nil
}

func (s *session) destroy() error { return s.s.Destroy() }
