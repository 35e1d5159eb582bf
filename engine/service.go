package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"

	"github.com/facematch/facematch/engine/neardup"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/models/decode"
)

// Catalog is the metadata store the service runs on (internal/catalog implements it).
type Catalog interface {
	GalleryStore
	ImageStore
	Deleter
	ReviewStore
	AuditLog
	TokenStore
	JobStore
	Reprocessor
	BlobReferences
	RetentionStore
	PersonStore
	HashStore
	AuditTrail
	// Atomically runs fn in one transaction: what fn does through the catalog it is given
	// (an action and its audit entry) commits together or not at all. fn must use only that
	// catalog and do no slow work (it holds the store's one writer).
	Atomically(ctx context.Context, fn func(Catalog) error) error
}

// BlobStore keeps original photos, face thumbnails, search probes and jobs' uploaded archives
// and sidecars (internal/blob/engineblob adapts internal/blob to it). List is what the sweeper
// finds orphans with.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	ObjectLister
}

// VectorIndex holds one model's face vectors (package index implements it). IDs are face IDs,
// galleries are gallery IDs.
type VectorIndex interface {
	Add(ctx context.Context, model string, entries []index.Entry) error
	// DeleteBatch deletes the faces among ids that the index holds, durably, and returns the
	// others: a purge may run twice.
	DeleteBatch(ctx context.Context, ids []uint64) (missing []uint64, err error)
	Search(ctx context.Context, model string, query []float32, k int, f index.Filter) ([]index.Hit, error)
	// NeighbourGraph returns each face f selects with its k most similar others (clustering).
	NeighbourGraph(ctx context.Context, model string, f index.Filter, k, workers int) (ids []uint64, lists [][]index.Hit, err error)
}

// ServiceConfig holds the service's parts and its policy. Zero policy values mean defaults.
type ServiceConfig struct {
	Catalog Catalog
	Blobs   BlobStore
	// Pipelines by model name ("fused", "faceplugin512", …); galleries store the model's
	// identity (name@sha256 prefix), which is the pipeline's Embedder.Identity().
	Pipelines    map[string]*Pipeline
	DefaultModel string                 // a key of Pipelines
	Indexes      map[string]VectorIndex // by model identity
	// Reviewers is the number of distinct reviewers who must agree before a match is final
	// (default 2).
	Reviewers int
	// MaxK caps the candidates per probe face (default 100).
	MaxK int
	// Tails are impostor tails for models without a built-in measurement (impostorTails), by
	// model identity: what a gallery's operating threshold is read from.
	Tails map[string][]TailPoint
	// MinorsTails are impostor tails of pairs of children for models without a built-in one
	// (minorsTails), by model identity: the minors' line of galleries of children and of probe
	// faces that look under 18.
	MinorsTails map[string][]TailPoint
	// Sources opens ingest jobs' sources; nil refuses ingest jobs. Meta parses their metadata
	// sidecars.
	Sources SourceOpener
	Meta    MetaParser
	// JobWorkers is the number of photos an ingest job analyses at once (default GOMAXPROCS+1).
	JobWorkers int
	// JobCommitBatch is the most files an ingest job commits in one catalog transaction
	// (default DefaultJobCommitBatch): larger batches fsync less, smaller ones lose less work
	// to an interruption and show progress sooner.
	JobCommitBatch int
	// Shards, when several processes share the catalog, lets each claim shards of an ingest
	// job, so that they work on one job together; nil (one process) runs a job's every file
	// in the process that runs the job.
	Shards ShardClaimer
	// JobQueued, if set, is called when a job is queued, so that the owner of the job runner
	// can wake it.
	JobQueued func()
	// CredentialLifetime is how long a new or rotated credential works (default 90 days).
	CredentialLifetime time.Duration
	Logger             *slog.Logger
	// MemoryBudget bounds the bytes that photos being decoded and analysed hold at once,
	// uploads, searches and jobs together; each photo weighs its estimated peak (from its
	// header, before decoding). Default DefaultMemoryBudget. A photo heavier than the whole
	// budget is refused (413).
	MemoryBudget int64
	// AdmissionWait is how long an upload or search waits for budget before it is answered
	// ErrUnavailable with a RetryAfter (503); jobs wait as long as they need. Default
	// DefaultAdmissionWait.
	AdmissionWait time.Duration
	// DecodeTimeout bounds the wait for one photo's decode (default DefaultDecodeTimeout);
	// past it the request gets ErrUnavailable, and the photo's budget stays held until the
	// decoder, which cannot be interrupted, returns.
	DecodeTimeout time.Duration
}

// Service is facematch's use cases: galleries, enrolment, search, review, deletion, each
// audited. It is safe for concurrent use.
type Service struct {
	cfg        ServiceConfig
	log        *slog.Logger
	byIdentity map[string]*Pipeline
	admit      *admission
	inference  inferenceStats
	placing    placingStats

	// runsMu guards runs, the jobs running in this process, so that deleting a gallery can
	// stop its jobs and wait for them to clean up before the records go.
	runsMu sync.Mutex
	runs   map[*jobRun]bool
}

// Actor is who asks: a credential's name and role, the person it belongs to, and the request
// it came with: the server's ID of it and, apart, the ID the client gave it (short and
// well-formed, or "").
type Actor struct {
	Name            string
	User            string
	Role            Role
	TokenID         int64
	RequestID       string
	ClientRequestID string
	// Galleries are the only galleries the actor may read and act on; nil means all (see
	// scope.go).
	Galleries []int64
}

// Person is who the actor is as a person: the credential's user, or its name for actors
// without one (the command line, the bootstrap). Rules about people (who requested a match,
// who decided it) compare persons, never credential names.
func (a Actor) Person() string {
	if a.User != "" {
		return a.User
	}
	return a.Name
}

// impostorQuantile is an embedder that knows its impostor similarity in closed form (a test
// double): the similarity two different people exceed with probability fmr.
type impostorQuantile interface {
	ImpostorSimilarity(fmr float64) float64
}

// minorsQuantile is impostorQuantile for pairs of children.
type minorsQuantile interface {
	MinorsImpostorSimilarity(fmr float64) float64
}

// NewService validates cfg and returns the service.
func NewService(cfg ServiceConfig) (*Service, error) {
	var errs []error
	if cfg.Catalog == nil || cfg.Blobs == nil {
		errs = append(errs, errors.New("service: Catalog and Blobs are required"))
	}
	if _, ok := cfg.Pipelines[cfg.DefaultModel]; !ok {
		errs = append(errs, fmt.Errorf("service: default model %q has no pipeline", cfg.DefaultModel))
	}
	s := &Service{cfg: cfg, byIdentity: map[string]*Pipeline{}, runs: map[*jobRun]bool{}}
	tails := map[string][]TailPoint{}
	for id, t := range cfg.Tails {
		tails[id] = t
	}
	for name, p := range cfg.Pipelines {
		id := p.Embedder.Identity()
		s.byIdentity[id] = p
		if q, ok := p.Embedder.(impostorQuantile); ok && tails[id] == nil && impostorTails[id] == nil {
			tails[id] = TailFromQuantile(q.ImpostorSimilarity)
		}
		if q, ok := p.Embedder.(minorsQuantile); ok && s.cfg.MinorsTails[id] == nil && minorsTails[id] == nil {
			if s.cfg.MinorsTails == nil {
				s.cfg.MinorsTails = map[string][]TailPoint{}
			}
			s.cfg.MinorsTails[id] = TailFromQuantile(q.MinorsImpostorSimilarity)
		}
		if _, ok := cfg.Indexes[id]; !ok {
			errs = append(errs, fmt.Errorf("service: model %s (%s) has no index", name, id))
		}
	}
	if cfg.Reviewers < 0 || cfg.MaxK < 0 || cfg.CredentialLifetime < 0 {
		errs = append(errs, errors.New("service: Reviewers, MaxK and CredentialLifetime must be >= 0"))
	}
	if cfg.MemoryBudget < 0 || cfg.AdmissionWait < 0 || cfg.DecodeTimeout < 0 {
		errs = append(errs, errors.New("service: MemoryBudget, AdmissionWait and DecodeTimeout must be >= 0"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.cfg.Tails = tails
	if s.cfg.JobWorkers <= 0 {
		// One more than the cores: while a photo waits on Go-side work or the disk, another
		// keeps the core busy (bench/RESULTS.md measures 2 vs 3 workers on 2 cores).
		s.cfg.JobWorkers = runtime.GOMAXPROCS(0) + 1
	}
	if s.cfg.Reviewers == 0 {
		s.cfg.Reviewers = 2
	}
	if s.cfg.JobCommitBatch <= 0 {
		s.cfg.JobCommitBatch = DefaultJobCommitBatch
	}
	if s.cfg.MaxK == 0 {
		s.cfg.MaxK = 100
	}
	if s.cfg.CredentialLifetime == 0 {
		s.cfg.CredentialLifetime = DefaultCredentialLifetime
	}
	if s.cfg.Logger == nil {
		s.cfg.Logger = slog.Default()
	}
	if s.cfg.MemoryBudget == 0 {
		s.cfg.MemoryBudget = DefaultMemoryBudget
	}
	if s.cfg.AdmissionWait == 0 {
		s.cfg.AdmissionWait = DefaultAdmissionWait
	}
	if s.cfg.DecodeTimeout == 0 {
		s.cfg.DecodeTimeout = DefaultDecodeTimeout
	}
	s.admit = newAdmission(s.cfg.MemoryBudget, s.cfg.AdmissionWait, s.cfg.DecodeTimeout)
	s.log = s.cfg.Logger.With("component", "service")
	return s, nil
}

// Reviewers is the number of agreeing reviewers a final decision needs.
func (s *Service) Reviewers() int { return s.cfg.Reviewers }

// entry is a's audit entry for action.
func entry(a Actor, action, target string, galleries []int64, input, result string) AuditEntry {
	return AuditEntry{At: time.Now(), Actor: a.Name, Action: action, Target: target, Galleries: galleries,
		Input: input, Result: result, RequestID: a.RequestID, ClientRequestID: a.ClientRequestID}
}

// audited runs act in one catalog transaction with the audit entry it returns: the action and
// its entry commit together or not at all, so nothing happens unaudited. act does only catalog
// work, through c; act's error (with any entry) rolls everything back.
func (s *Service) audited(ctx context.Context, act func(c Catalog) (AuditEntry, error)) error {
	return s.cfg.Catalog.Atomically(ctx, func(c Catalog) error {
		e, err := act(c)
		if err != nil {
			return err
		}
		if _, err := c.Append(ctx, e); err != nil {
			return fmt.Errorf("service: audit %s: %w", e.Action, err)
		}
		return nil
	})
}

// auditRead records a read (a photo's bytes, the audit log) before it is served: when the
// entry cannot be written, the read fails and nothing is served unaudited.
func (s *Service) auditRead(ctx context.Context, e AuditEntry) error {
	if _, err := s.cfg.Catalog.Append(ctx, e); err != nil {
		s.log.Error("audit write failed: the read is refused", "action", e.Action, "target", e.Target, "err", err)
		return &RetryAfter{Err: fmt.Errorf("%s could not be audited, so it is not served: %w", e.Action, ErrUnavailable), After: 5 * time.Second}
	}
	return nil
}

// CreateGallery creates a gallery bound to model (a pipeline name; "" means the default).
func (s *Service) CreateGallery(ctx context.Context, a Actor, name string, kind GalleryKind, model string) (Gallery, error) {
	if len(model) > MaxRefLen {
		return Gallery{}, fmt.Errorf("model is longer than %d bytes: %w", MaxRefLen, ErrInvalid)
	}
	if model == "" {
		model = s.cfg.DefaultModel
	}
	p, ok := s.cfg.Pipelines[model]
	if !ok {
		names := make([]string, 0, len(s.cfg.Pipelines))
		for n := range s.cfg.Pipelines {
			names = append(names, n)
		}
		sort.Strings(names)
		return Gallery{}, fmt.Errorf("unknown model %q (this service runs %s): %w", model, strings.Join(names, ", "), ErrInvalid)
	}
	if !kind.Valid() {
		return Gallery{}, fmt.Errorf("kind must be reference or collection, got %q: %w", kind, ErrInvalid)
	}
	name, err := CleanName("name", name)
	if err != nil {
		return Gallery{}, err
	}
	var g Gallery
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		g, err = c.CreateGallery(ctx, Gallery{Name: name, Kind: kind, Model: p.Embedder.Identity(), CreatedAt: time.Now(), CreatedBy: a.Name})
		return entry(a, "gallery.create", ref("gallery", g.ID), []int64{g.ID}, "name="+g.Name+" kind="+string(kind)+" model="+g.Model, ""), err
	})
	return g, err
}

// MaxTargetFPIR bounds a gallery's target: above it most searches of a stranger would bring
// a review item, which is the flood the threshold exists to stop.
const MaxTargetFPIR = 0.5

// GalleryPolicy is what an admin may change of a gallery's review policy; nil fields stay.
type GalleryPolicy struct {
	// TargetFPIR is the share of searches of a stranger that may bring a review item.
	TargetFPIR *float64
	// Minors marks a gallery of children: its candidates are judged under the minors' line.
	Minors *bool
}

// SetGalleryPolicy changes gallery id's target FPIR or minors mark; its threshold follows at
// every size. Audited with the threshold it gives.
func (s *Service) SetGalleryPolicy(ctx context.Context, a Actor, id int64, p GalleryPolicy) (Gallery, error) {
	if p.TargetFPIR == nil && p.Minors == nil {
		return Gallery{}, fmt.Errorf("nothing to change: give target_fpir or minors: %w", ErrInvalid)
	}
	if p.TargetFPIR != nil && !(*p.TargetFPIR >= 1e-6 && *p.TargetFPIR <= MaxTargetFPIR) { // NaN too
		return Gallery{}, fmt.Errorf("target_fpir must be in [1e-6, %g], got %g: %w", MaxTargetFPIR, *p.TargetFPIR, ErrInvalid)
	}
	var g Gallery
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		before, err := c.Gallery(ctx, id)
		if err != nil {
			return AuditEntry{}, err
		}
		g = before
		if p.TargetFPIR != nil {
			g.TargetFPIR = *p.TargetFPIR
		}
		if p.Minors != nil {
			g.Minors = *p.Minors
		}
		if err := c.SetGalleryPolicy(ctx, id, g.TargetFPIR, g.Minors); err != nil {
			return AuditEntry{}, err
		}
		op := s.operatingPoint(g)
		g.Operating = &op
		threshold := "none"
		if op.Threshold != nil {
			threshold = fmt.Sprintf("%.3f", *op.Threshold)
		}
		return entry(a, "gallery.policy", ref("gallery", id), []int64{id},
			fmt.Sprintf("target_fpir=%g (was %g) minors=%t (was %t)", g.TargetFPIR, before.TargetFPIR, g.Minors, before.Minors),
			fmt.Sprintf("faces=%d threshold=%s", g.Faces, threshold)), nil
	})
	return g, err
}

// CreateSubject adds a known person to a reference gallery.
func (s *Service) CreateSubject(ctx context.Context, a Actor, sub Subject) (Subject, error) {
	if err := checkGallery(a, sub.GalleryID); err != nil {
		return Subject{}, err
	}
	var err error
	if sub.Name, err = CleanName("name", sub.Name); err != nil {
		return sub, err
	}
	if sub.ExternalRef, err = CleanText("external_ref", sub.ExternalRef, MaxRefLen, false); err != nil {
		return sub, err
	}
	if sub.Notes, err = CleanText("notes", sub.Notes, MaxNoteLen, true); err != nil {
		return sub, err
	}
	sub.CreatedAt = time.Now()
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		sub, err = c.CreateSubject(ctx, sub)
		return entry(a, "subject.create", ref("subject", sub.ID), []int64{sub.GalleryID}, "external_ref="+sub.ExternalRef, ""), err
	})
	return sub, err
}

func ref(kind string, id int64) string { return kind + ":" + strconv.FormatInt(id, 10) }

// Upload is one photo to store.
type Upload struct {
	GalleryID int64
	SubjectID *int64
	// Face picks the subject's face in a reference photo; nil takes the only face that passed
	// the quality gate, and a photo with several is refused with a *FaceChoiceError.
	Face   *FacePick
	Data   []byte
	Source Source
	JobID  *int64
}

// Enrolled is what AddImage stored (or found already stored: Duplicate).
type Enrolled struct {
	Image     Image        `json:"image"`
	Faces     []StoredFace `json:"faces"`
	Duplicate bool         `json:"duplicate"`
}

// AddImage stores a photo in a gallery: decode (limits checked first), detect every face,
// quality gate, embed the accepted ones, store the original and face thumbnails, record the
// image and faces, and index the vectors. The same bytes twice are stored once. A collection
// photo keeps every face; a reference photo keeps its subject's face alone (up.Face).
func (s *Service) AddImage(ctx context.Context, a Actor, up Upload) (Enrolled, error) {
	if err := checkGallery(a, up.GalleryID); err != nil {
		return Enrolled{}, err
	}
	g, err := s.cfg.Catalog.Gallery(ctx, up.GalleryID)
	if err != nil {
		return Enrolled{}, err
	}
	switch {
	case g.Kind == Reference && up.SubjectID == nil:
		return Enrolled{}, fmt.Errorf("gallery %d is a reference gallery: every photo needs a subject_id: %w", g.ID, ErrInvalid)
	case g.Kind == Collection && up.SubjectID != nil:
		return Enrolled{}, fmt.Errorf("gallery %d is a collection: its photos have no subject: %w", g.ID, ErrInvalid)
	case g.Kind == Collection && up.Face != nil:
		return Enrolled{}, fmt.Errorf("gallery %d is a collection: it keeps every face of a photo, there is none to pick: %w", g.ID, ErrInvalid)
	}
	if err := up.Face.validate(); err != nil {
		return Enrolled{}, err
	}
	p, ok := s.byIdentity[g.Model]
	if !ok {
		return Enrolled{}, fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
	}
	if up.Source, err = CleanSource(up.Source); err != nil {
		return Enrolled{}, err
	}
	ph, release, err := s.analyzePhoto(ctx, p, up.Data, false)
	if err != nil {
		return Enrolled{}, fmt.Errorf("nothing stored: %w", err)
	}
	if g.Kind == Reference {
		f, err := subjectFace(ph, up.Face)
		if err != nil {
			release()
			return Enrolled{}, err
		}
		ph.faces = []Face{f}
	}
	sha := ph.sha
	record, newFaces, puts, err := newImage(ph, up.Data, Image{GalleryID: g.ID, SubjectID: up.SubjectID, Source: up.Source,
		CreatedBy: a.Name, OriginJobID: up.JobID})
	release() // the pixels are no longer used
	if err != nil {
		return Enrolled{}, err
	}
	if err := s.putBlobs(ctx, puts); err != nil {
		return Enrolled{}, err
	}
	var stored Image
	var storedFaces []StoredFace
	duplicate := false
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		stored, storedFaces, err = c.AddImage(ctx, record, newFaces)
		if errors.Is(err, ErrConflict) && stored.ID != 0 {
			duplicate = true
			return entry(a, "image.upload", ref("image", stored.ID), []int64{g.ID}, "sha256="+sha, "duplicate"), nil
		}
		accepted := 0
		for _, f := range newFaces {
			if f.Vector != nil {
				accepted++
			}
		}
		return entry(a, "image.upload", ref("image", stored.ID), []int64{g.ID}, "sha256="+sha,
			fmt.Sprintf("faces=%d accepted=%d %s", len(storedFaces), accepted, ageAudit(newFaces))), err
	})
	switch {
	case err != nil:
		// These errors say no record took the blobs just stored; after other failures they are
		// left to the sweeper, which spares referenced blobs.
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			s.deleteBlobs(ctx, keysOf(puts))
		}
		return Enrolled{}, err
	case duplicate:
		// The stored record keeps its own blobs: the ones just written are nobody's.
		s.deleteBlobs(ctx, keysOf(puts))
		return Enrolled{Image: stored, Faces: storedFaces, Duplicate: true}, nil
	}
	var entries []index.Entry
	for i, f := range storedFaces {
		if newFaces[i].Vector != nil {
			entries = append(entries, index.Entry{ID: uint64(f.ID), Gallery: uint64(g.ID), Vector: newFaces[i].Vector})
		}
	}
	if len(entries) > 0 {
		if err := s.cfg.Indexes[g.Model].Add(ctx, g.Model, entries); err != nil {
			// The catalog holds the vectors: Reconcile adds them at the next start.
			return Enrolled{}, fmt.Errorf("service: index faces of image %d: %w", stored.ID, err)
		}
		var placed []ClusterFace
		for i, f := range storedFaces {
			if newFaces[i].Vector != nil {
				placed = append(placed, ClusterFace{FaceID: f.ID, ImageID: stored.ID, Vector: newFaces[i].Vector, Minor: newFaces[i].Face.Age != nil && newFaces[i].Face.Age.PossibleMinor})
			}
		}
		s.placeFaces(ctx, g, placed)
	}
	return Enrolled{Image: stored, Faces: storedFaces}, nil
}

// photo is an uploaded photo, decoded and analysed.
type photo struct {
	img   *image.NRGBA
	info  decode.Info
	faces []Face
	sha   string // hex sha256 of the bytes
}

// analyzePhoto decodes data within p's limits and the memory budget (patient: a job, which
// waits for budget instead of failing) and runs p over it. A photo in which the detector
// finds no face at all is ErrNoFace: there is nothing to store or search. On success the
// caller must call release once it no longer uses the photo's pixels; calling it again is
// harmless, so a deferred call may back up an early one.
func (s *Service) analyzePhoto(ctx context.Context, p *Pipeline, data []byte, patient bool) (ph photo, release func(), err error) {
	d, t, err := s.decodeAdmitted(ctx, p.Limits, data, patient)
	if err != nil {
		return photo{}, nil, err
	}
	start := time.Now()
	faces, err := p.AnalyzeImage(ctx, d.img)
	if err == nil {
		s.inference.observe(p.Embedder.Identity(), time.Since(start))
	}
	if err == nil && len(faces) == 0 {
		err = fmt.Errorf("%w in the photo", ErrNoFace)
	}
	if err != nil {
		t.release()
		return photo{}, nil, err
	}
	sum := sha256.Sum256(data)
	return photo{img: d.img, info: d.info, faces: faces, sha: hex.EncodeToString(sum[:])}, sync.OnceFunc(t.release), nil
}

type blobPut struct {
	key  string
	data []byte
}

// newImage makes an analysed photo ready to store: rec (gallery, subject, source, creator and
// job filled in by the caller) completed from the photo, its faces with the accepted ones'
// vectors, and its blobs, the original and one thumbnail per face, under the gallery's keys.
//
// Every record gets keys of its own (the hash and a random nonce): the same bytes uploaded
// again while a deletion of their earlier record is purging must not be stored under the keys
// that purge removes. The catalog deduplicates by hash; keys are never shared.
func newImage(ph photo, data []byte, rec Image) (Image, []NewFace, []blobPut, error) {
	prefix := fmt.Sprintf("galleries/%d/", rec.GalleryID)
	name := ph.sha + "-" + nonce()
	rec.SHA256, rec.Format, rec.Bytes = ph.sha, ph.info.Format, int64(len(data))
	rec.Width, rec.Height, rec.BlobKey, rec.CreatedAt = ph.info.Width, ph.info.Height, prefix+"images/"+name, time.Now()
	hashes, err := neardup.Stored(ph.img)
	if err != nil {
		return rec, nil, nil, err
	}
	boxes := make([]neardup.Box, len(ph.faces))
	for i, f := range ph.faces {
		b := f.Detection.Box
		boxes[i] = neardup.Box{X: float64(b.X), Y: float64(b.Y), W: float64(b.W), H: float64(b.H)}
	}
	hashes = append(hashes, neardup.StoredFaces(ph.img, boxes)...)
	rec.Hashes = make([]uint64, len(hashes))
	for i, h := range hashes {
		rec.Hashes[i] = uint64(h)
	}
	faces := make([]NewFace, len(ph.faces))
	puts := []blobPut{{rec.BlobKey, data}}
	for i, f := range ph.faces {
		nf := NewFace{Face: StoredFace{Box: boxOf(f), Landmarks: landmarksOf(f), Quality: f.Quality, Rejections: f.Rejected, Age: f.Age, NoAge: f.NoAge}}
		if f.Accepted() && f.Embedding != nil {
			nf.Face.Model, nf.Vector = f.Embedding.Model, f.Embedding.Vector
		}
		th, err := thumbnail(ph.img, nf.Face.Box)
		if err != nil {
			return rec, nil, nil, err
		}
		nf.Face.ThumbKey = fmt.Sprintf("%sthumbs/%s-%d.jpg", prefix, name, i)
		puts = append(puts, blobPut{nf.Face.ThumbKey, th})
		faces[i] = nf
	}
	return rec, faces, puts, nil
}

// putBlobs stores a photo's blobs. Blobs go before the catalog record: a crash in between
// leaves unreferenced blobs, which the sweeper removes, never a record without its photo. On
// failure the blobs already stored are deleted.
func (s *Service) putBlobs(ctx context.Context, puts []blobPut) error {
	for i, b := range puts {
		if err := s.cfg.Blobs.Put(ctx, b.key, bytes.NewReader(b.data), int64(len(b.data))); err != nil {
			s.deleteBlobs(ctx, keysOf(puts[:i+1])) // a failed Put may still have stored
			return fmt.Errorf("service: store %s: %w", b.key, err)
		}
	}
	return nil
}

func keysOf(puts []blobPut) []string {
	keys := make([]string, len(puts))
	for i, b := range puts {
		keys[i] = b.key
	}
	return keys
}

// deleteBlobs removes blobs the service no longer needs, even after the caller's context
// ended; a failure is logged, and the sweeper removes the blob later.
func (s *Service) deleteBlobs(ctx context.Context, keys []string) {
	ctx = context.WithoutCancel(ctx)
	for _, key := range keys {
		if err := s.cfg.Blobs.Delete(ctx, key); err != nil {
			s.log.Error("deleting a blob failed; the sweeper retries", "key", key, "err", err)
		}
	}
}

// nonce returns 32 random hex digits (128 bits): what makes a record's or a job's blob keys its
// own.
func nonce() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func boxOf(f Face) Box {
	b := f.Detection.Box
	return Box{X: b.X, Y: b.Y, W: b.W, H: b.H}
}

func landmarksOf(f Face) [10]float32 {
	var out [10]float32
	for i, p := range f.Detection.Landmarks {
		out[2*i], out[2*i+1] = p.X, p.Y
	}
	return out
}

// ThumbSize is the longer side of a face thumbnail in pixels.
const ThumbSize = 160

// thumbnail crops the face box with a margin of half its size and scales it down to fit
// ThumbSize with a box filter, which averages the pixels each output pixel covers (no
// aliasing): 11 ms against Lanczos's 35 for a face filling a 1449×2173 photo
// (BenchmarkThumbnail), and thumbnails are for people to look at, not for matching.
func thumbnail(img *image.NRGBA, b Box) ([]byte, error) {
	mx, my := b.W/2, b.H/2
	r := image.Rect(int(b.X-mx), int(b.Y-my), int(b.X+b.W+mx), int(b.Y+b.H+my)).Intersect(img.Bounds())
	if r.Empty() {
		r = img.Bounds()
	}
	crop := img.SubImage(r).(*image.NRGBA)
	if w, h := r.Dx(), r.Dy(); w > ThumbSize || h > ThumbSize {
		k := float64(ThumbSize) / float64(max(w, h))
		crop = imaging.Resize(crop, max(1, int(math.Round(float64(w)*k))), max(1, int(math.Round(float64(h)*k))), imaging.Box)
	}
	var src image.Image = crop
	if crop.Opaque() {
		// Opaque NRGBA and RGBA pixels are the same bytes; the JPEG encoder has a fast path for
		// RGBA only and reads NRGBA pixel by pixel through At (~1 ms per thumbnail).
		src = &image.RGBA{Pix: crop.Pix, Stride: crop.Stride, Rect: crop.Rect}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 88}); err != nil {
		return nil, fmt.Errorf("service: thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// OnJobQueued sets the function called when a job is queued (the job runner's Wake): the
// runner is built on the service, so it is wired after.
func (s *Service) OnJobQueued(fn func()) { s.cfg.JobQueued = fn }
