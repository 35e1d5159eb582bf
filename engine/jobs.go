package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// JobKind says what a batch job does.
type JobKind string

const (
	// IngestJob reads photos from a source into a collection (or reference) gallery and,
	// optionally, cross-matches every new face against reference galleries.
	IngestJob JobKind = "ingest"
	// ReprocessJob re-embeds every stored face of a gallery with another model, then switches
	// the gallery to it.
	ReprocessJob JobKind = "reprocess"
)

// JobState is where a job stands. Queued and running jobs are unfinished: the service resumes
// them at start, and a cancelled or failed job can be resumed on request.
type JobState string

const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobCancelled JobState = "cancelled"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
)

// Finished reports whether a job in state s is no longer worked on.
func (s JobState) Finished() bool { return s == JobCancelled || s == JobDone || s == JobFailed }

// JobSpec is what a job was asked to do. It is stored with the job, so that a resumed job does
// exactly what the first run did.
type JobSpec struct {
	// Source is where an ingest job reads: "s3://bucket/prefix", a directory or archive path on
	// the machine running the job, or "upload:KEY", an archive uploaded into the blob store.
	Source string `json:"source,omitempty"`
	// MetaKey is the blob key of the job's metadata sidecar (copied there at creation), and
	// MetaFormat its format ("json" or "csv").
	MetaKey    string `json:"meta_key,omitempty"`
	MetaFormat string `json:"meta_format,omitempty"`
	// CrossMatch lists reference galleries every new face is searched in; hits at or above
	// MinSim (default: each gallery's operating threshold), at most K per face, become pending
	// matches: one per face and subject, or, into a collection, one per suggested person and
	// subject (personmatch.go).
	CrossMatch []int64 `json:"cross_match,omitempty"`
	MinSim     float32 `json:"min_similarity,omitempty"`
	K          int     `json:"k,omitempty"`
	// Purpose is why the job runs (a case reference): it is audited and given to its matches.
	Purpose string `json:"purpose"`
	// Model is a reprocess job's target model (a pipeline name).
	Model string `json:"model,omitempty"`
}

// BlobKeys returns the blobs the job owns in the blob store: its uploaded archive and its
// metadata sidecar, when it has them. A done job's are deleted; a cancelled or failed job
// keeps them while it can be resumed, which is until its gallery is deleted.
func (s JobSpec) BlobKeys() []string {
	var keys []string
	if key, ok := strings.CutPrefix(s.Source, UploadSourcePrefix); ok && key != "" {
		keys = append(keys, key)
	}
	if s.MetaKey != "" {
		keys = append(keys, s.MetaKey)
	}
	return keys
}

// Job is a batch job and its progress.
type Job struct {
	ID         int64    `json:"id"`
	Kind       JobKind  `json:"kind"`
	GalleryID  int64    `json:"gallery_id"`
	Spec       JobSpec  `json:"spec"`
	State      JobState `json:"state"`
	Total      int      `json:"total"` // files in the source (-1 until counted)
	Processed  int      `json:"processed"`
	Stored     int      `json:"stored"`
	Duplicates int      `json:"duplicates"`
	NoFace     int      `json:"no_face"`
	Failed     int      `json:"failed"`
	Faces      int      `json:"faces"`
	Matches    int      `json:"matches"`
	// PossibleMinors counts the faces it stored that look under 18 (a triage count).
	PossibleMinors int        `json:"possible_minors"`
	Error          string     `json:"error,omitempty"`
	SearchID       *int64     `json:"search_id,omitempty"` // the cross-match's search record
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
	// RunStartedAt and RunStartCount are when the current (or last) run started and how many
	// files were processed before it: the rate is measured over this run only.
	RunStartedAt  *time.Time `json:"-"`
	RunStartCount int        `json:"-"`
}

// JobItemState is what became of one source file.
type JobItemState string

const (
	ItemStored    JobItemState = "stored"
	ItemDuplicate JobItemState = "duplicate" // the gallery already had these bytes
	ItemNoFace    JobItemState = "no_face"
	ItemFailed    JobItemState = "failed"
)

// JobItem is one source file a job has finished with.
type JobItem struct {
	Name    string       `json:"name"`
	State   JobItemState `json:"state"`
	ImageID *int64       `json:"image_id,omitempty"`
	Faces   int          `json:"faces"`
	Reason  string       `json:"reason,omitempty"`
}

// JobProbe is a stored face used as a probe of a job's cross-match, with its candidates.
type JobProbe struct {
	Face       int // index into the item's faces
	Candidates []Candidate
	// ByPerson keeps the candidates as the face's hits (JobFaceHit) until the face has a
	// suggested person: a collection's job proposes one item per (person, subject).
	ByPerson bool
}

// JobFaceHit is one candidate a job's face scored in the cross-match of a collection's job,
// kept until the face has a person.
type JobFaceHit struct {
	FaceID        int64 // the job's face
	GalleryFaceID int64 // the reference face
	GalleryID     int64
	Similarity    float32
	PersonID      *int64 // the job face's suggested person; nil while it has none
	SubjectID     *int64 // the reference face's subject
}

// PersonItem is one review item of a job's cross-match: the best pair of one suggested person
// (or of one face that has none) with one subject (or a reference face without one), and every
// hit it stands for.
type PersonItem struct {
	PersonID  *int64
	SubjectID *int64
	Probe     int64     // the job's face of the best pair
	Candidate Candidate // its reference face (FaceID, GalleryID, Similarity, Rank among the person's items)
	Hits      []JobFaceHit
}

// MatchSupport is one hit a review item stands for: a face of the item's person that scored
// against the item's subject.
type MatchSupport struct {
	FaceID        int64   `json:"face_id"` // the collection's face
	ImageID       int64   `json:"image_id"`
	GalleryFaceID int64   `json:"gallery_face_id"`
	Similarity    float32 `json:"similarity"`
	JobID         int64   `json:"job_id"`
}

// IngestItem is one finished file of an ingest job, committed with others in one transaction:
// a new image with its faces (Image.ID == 0), an already stored one (Image.ID set, Faces carry
// their IDs), or a file that yielded nothing (Image nil).
type IngestItem struct {
	Item   JobItem
	Image  *Image
	Faces  []NewFace
	Probes []JobProbe
}

// JobFilter selects jobs; Cursor is the last ID of the previous page.
type JobFilter struct {
	State     []JobState
	GalleryID int64
	Galleries []int64 // when not nil, these galleries' jobs only (a scoped credential)
	// OldestFirst lists jobs oldest first, after Cursor; the default is newest first, before it.
	OldestFirst bool
	Cursor      int64
	Limit       int
}

// JobStore keeps jobs, their items and a reprocess job's staged vectors.
type JobStore interface {
	CreateJob(ctx context.Context, j Job) (Job, error)
	Job(ctx context.Context, id int64) (Job, error)
	Jobs(ctx context.Context, f JobFilter) ([]Job, error)
	// SetJobState moves a job to state; errMsg is kept for failed jobs. Moving to running
	// starts a run (RunStartedAt now, RunStartCount the processed count).
	SetJobState(ctx context.Context, id int64, state JobState, errMsg string, at time.Time) (Job, error)
	SetJobTotal(ctx context.Context, id int64, total int) error
	SetJobSearch(ctx context.Context, id, searchID int64) error
	// JobItemDone reports whether the job has finished with the named file.
	JobItemDone(ctx context.Context, jobID int64, name string) (bool, error)
	// JobItems pages through a job's items by name (after is the last name of the previous
	// page); state "" means every state.
	JobItems(ctx context.Context, jobID int64, state JobItemState, after string, limit int) ([]JobItem, error)
	// CommitIngest stores a batch of finished files in one transaction: new images and faces,
	// cross-match probes and their matches (a probe face and candidate pair is never matched
	// twice), the items, and the job's counters. It returns the stored faces of each item (in
	// item order; IDs set) and the job as it stands after the batch.
	CommitIngest(ctx context.Context, job Job, items []IngestItem) ([][]StoredFace, Job, error)
	// OpenJobHits returns up to limit of the job's hits not yet in a review item, of the given
	// faces (nil: of any), in face order, each with its face's person and its subject.
	OpenJobHits(ctx context.Context, jobID int64, faceIDs []int64, limit int) ([]JobFaceHit, error)
	// RecordPersonItems records a job's person-level review items in one transaction: an item
	// reuses the match made earlier for the same person (or, without one, the same face) and
	// the same subject (or reference face), unless that match is final and the new pair scores
	// higher; every hit keeps its item. It returns how many new matches it made and adds them
	// to the job's count.
	RecordPersonItems(ctx context.Context, job Job, items []PersonItem) (int, error)
	// JobsWithOpenHits returns up to limit finished jobs (done, cancelled or failed) with hits
	// in no review item: an item's photo was deleted since.
	JobsWithOpenHits(ctx context.Context, limit int) ([]int64, error)
	// ImagesWithUnagedFaces returns up to limit photos with an ID above after that have faces
	// with neither an apparent age nor a reason for none (or stored while no age model ran:
	// NoAgeModel); SetFaceAges records them (and the
	// possible-minor flag) for faces.
	ImagesWithUnagedFaces(ctx context.Context, after int64, limit int) ([]Image, error)
	SetFaceAges(ctx context.Context, faces []StoredFace) error
	// MatchSupport returns up to limit hits a review item stands for, the most similar first.
	MatchSupport(ctx context.Context, matchID int64, limit int) ([]MatchSupport, error)
	// ImageBySHA256 returns the gallery's image with these bytes, its faces and their vectors
	// (ErrNotFound when there is none).
	ImageBySHA256(ctx context.Context, galleryID int64, sha string) (Image, []NewFace, error)
}

// StagedVector is a reprocess job's new vector of a stored face.
type StagedVector struct {
	FaceID int64
	Vector []float32
}

// ReprocessImage is a stored image with the faces a reprocess job has yet to re-embed.
type ReprocessImage struct {
	Image Image
	Faces []StoredFace
}

// Reprocessor keeps a reprocess job's work: the faces left to re-embed, the new vectors
// staged until the switch, and the switch itself.
type Reprocessor interface {
	// ReprocessTodo pages (by image ID, after the given one) through the gallery's images that
	// have vectors of another model than target not yet staged by the job.
	ReprocessTodo(ctx context.Context, jobID, galleryID int64, target string, after int64, limit int) ([]ReprocessImage, error)
	// StageVectors stores new vectors of model and counts images as processed, in one
	// transaction.
	StageVectors(ctx context.Context, jobID int64, model string, vs []StagedVector, images int) (Job, error)
	// SwitchModel moves the gallery to model in one transaction: every staged vector replaces
	// its face's, the gallery's model changes, and the old vectors are left in a purge for the
	// old index. It fails with ErrConflict when a face of the gallery has no staged vector yet.
	SwitchModel(ctx context.Context, jobID, galleryID int64, model string) (Purge, error)
}

// SourceOpener opens an ingest job's source from its spec (JobSpec.Source).
type SourceOpener interface {
	OpenSource(ctx context.Context, spec string) (JobSource, error)
}

// MetaLookup finds the metadata of a source file by its name.
type MetaLookup interface {
	For(name string) (Source, bool)
}

// MetaParser reads a metadata sidecar ("json" or "csv").
type MetaParser func(r io.Reader, format string) (MetaLookup, error)

// JobRequest is an operator's request for a job.
type JobRequest struct {
	Kind      JobKind
	GalleryID int64
	Spec      JobSpec
	// Meta is the metadata sidecar's content (nil: none); it is copied into the blob store so
	// that a resumed job reads the same.
	Meta []byte
	// Archive, when set, is an uploaded zip, tar or tar.gz of ArchiveSize bytes to ingest: it
	// is stored in the blob store (the job's source, "upload:KEY") and deleted when the job
	// is done.
	Archive     io.Reader
	ArchiveSize int64
}

// CreateJob validates and queues a job. Everything that can be checked before the job runs
// is: the gallery, the cross-match galleries and their models, the metadata sidecar, and that
// the source can be opened.
func (s *Service) CreateJob(ctx context.Context, a Actor, req JobRequest) (Job, error) {
	var err error
	if req.Spec.Purpose, err = CleanText("purpose", req.Spec.Purpose, MaxPurposeLen, false); err != nil {
		return Job{}, err
	}
	if req.Spec.Source, err = cleanURL("source", req.Spec.Source); err != nil {
		return Job{}, err
	}
	if req.Spec.Model, err = CleanText("model", req.Spec.Model, MaxRefLen, false); err != nil {
		return Job{}, err
	}
	if req.Spec.CrossMatch, err = DistinctIDs("cross_match", req.Spec.CrossMatch, MaxGalleries); err != nil {
		return Job{}, err
	}
	if req.Spec.Purpose == "" {
		return Job{}, fmt.Errorf("purpose is required (the reason for the job or a case reference): %w", ErrInvalid)
	}
	g, err := s.cfg.Catalog.Gallery(ctx, req.GalleryID)
	if err != nil {
		return Job{}, err
	}
	switch req.Kind {
	case IngestJob:
		err = s.checkIngest(ctx, g, &req)
	case ReprocessJob:
		err = s.checkReprocess(ctx, g, &req)
	default:
		err = fmt.Errorf("kind must be ingest or reprocess, got %q: %w", req.Kind, ErrInvalid)
	}
	if err != nil {
		return Job{}, err
	}
	var j Job
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		j, err = c.CreateJob(ctx, Job{Kind: req.Kind, GalleryID: g.ID, Spec: req.Spec, CreatedBy: a.Person(), CreatedAt: time.Now()})
		return entry(a, "job.create", ref("job", j.ID), append([]int64{g.ID}, req.Spec.CrossMatch...),
			fmt.Sprintf("kind=%s source=%q purpose=%q model=%q", j.Kind, j.Spec.Source, j.Spec.Purpose, j.Spec.Model), ""), err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
			s.deleteBlobs(ctx, req.Spec.BlobKeys()) // no job took them (its gallery went meanwhile)
		}
		return j, err
	}
	if s.cfg.JobQueued != nil {
		s.cfg.JobQueued()
	}
	return j, nil
}

// JobView is a job with its rate and estimated time to finish.
type JobView struct {
	Job
	Rate       float64  `json:"rate"`                  // files per second over the current (or last) run
	ETASeconds *float64 `json:"eta_seconds,omitempty"` // while running, once a rate is known
}

// ViewOf computes a job's rate and ETA at now.
func ViewOf(j Job, now time.Time) JobView {
	v := JobView{Job: j}
	if j.RunStartedAt == nil {
		return v
	}
	end := now
	if j.State.Finished() && j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	if el := end.Sub(*j.RunStartedAt).Seconds(); el > 0 {
		v.Rate = float64(j.Processed-j.RunStartCount) / el
	}
	if j.State == JobRunning && v.Rate > 0 && j.Total >= j.Processed {
		eta := float64(j.Total-j.Processed) / v.Rate
		v.ETASeconds = &eta
	}
	return v
}

// RunJob runs a queued, running, cancelled or failed job until it is done, fails, is cancelled
// (its state set to cancelled by CancelJob: RunJob sees it between batches) or ctx ends (the
// job stays running and resumes at the next start). progress, if set, is called after each
// batch. Files the job already finished are skipped, so that resuming neither repeats nor
// loses work.
//
// With ServiceConfig.Shards, an ingest job is shared with other processes: the run processes
// the shards it can claim, and returns the job still running, with a nil error, when other
// processes hold the rest; the process that finishes the last shard finishes the job.
func (s *Service) RunJob(ctx context.Context, id int64, progress func(Job)) (Job, error) {
	j, err := s.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State == JobDone {
		return j, nil
	}
	ctx, stop := s.startRun(ctx, j)
	defer stop()
	if j.State == JobRunning && s.sharded(j) {
		// Running on other processes too: its run (and rate) started with the first of them,
		// and the runners of idle ones look in every few seconds.
		s.log.Debug("job pass", "job", j.ID, "processed", j.Processed)
	} else {
		if j, err = s.cfg.Catalog.SetJobState(ctx, id, JobRunning, "", time.Now()); err != nil {
			return j, err
		}
		s.log.Info("job running", "job", j.ID, "kind", j.Kind, "gallery", j.GalleryID, "processed", j.Processed)
	}
	switch j.Kind {
	case IngestJob:
		var finishing func()
		j, finishing, err = s.runIngest(ctx, j, progress)
		defer finishing() // after the job's end is recorded: no other process finishes it again
		if errors.Is(err, errShardsLeft) {
			s.log.Debug("job's other shards are with other processes", "job", j.ID)
			cur, err := s.cfg.Catalog.Job(context.WithoutCancel(ctx), id)
			if err != nil {
				return j, err
			}
			return cur, nil
		}
	case ReprocessJob:
		j, err = s.runReprocess(ctx, j, progress)
	default:
		err = fmt.Errorf("job %d has unknown kind %q", j.ID, j.Kind)
	}
	return s.finishJob(ctx, j, err)
}

// jobRun is a job running in this process: deleting its gallery cancels it and waits for done.
type jobRun struct {
	gallery int64
	cancel  context.CancelFunc
	done    chan struct{}
}

// startRun registers a run of j; stop ends it.
func (s *Service) startRun(ctx context.Context, j Job) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	r := &jobRun{gallery: j.GalleryID, cancel: cancel, done: make(chan struct{})}
	s.runsMu.Lock()
	s.runs[r] = true
	s.runsMu.Unlock()
	return ctx, func() {
		s.runsMu.Lock()
		delete(s.runs, r)
		s.runsMu.Unlock()
		cancel()
		close(r.done)
	}
}

// stopGalleryJobs cancels the gallery's unfinished jobs, so that none resumes, and waits for
// those running here to stop and delete the blobs of their batches in flight.
func (s *Service) stopGalleryJobs(ctx context.Context, a Actor, galleryID int64) error {
	for cursor := int64(0); ; {
		js, err := s.cfg.Catalog.Jobs(ctx, JobFilter{GalleryID: galleryID, State: []JobState{JobQueued, JobRunning}, Cursor: cursor, Limit: 100})
		if err != nil {
			return err
		}
		for _, j := range js {
			err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
				_, err := c.SetJobState(ctx, j.ID, JobCancelled, "", time.Now())
				return entry(a, "job.cancel", ref("job", j.ID), []int64{galleryID}, "", fmt.Sprintf("processed=%d gallery deleted", j.Processed)), err
			})
			if err != nil {
				return err
			}
			cursor = j.ID
		}
		if len(js) < 100 {
			break
		}
	}
	s.runsMu.Lock()
	var runs []*jobRun
	for r := range s.runs {
		if r.gallery == galleryID {
			runs = append(runs, r)
			r.cancel()
		}
	}
	s.runsMu.Unlock()
	for _, r := range runs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// finishJob records how a run ended.
func (s *Service) finishJob(ctx context.Context, j Job, runErr error) (Job, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cur, err := s.cfg.Catalog.Job(actx, j.ID)
	if err != nil {
		return j, errors.Join(runErr, err)
	}
	switch {
	case cur.State == JobCancelled:
		s.log.Info("job cancelled", "job", j.ID, "processed", cur.Processed)
		return cur, nil
	case cur.State == JobFailed && runErr == nil && s.sharded(cur):
		// Another process's run of the job failed it: this one stopped at its next batch.
		s.log.Info("job failed in another process", "job", j.ID, "err", cur.Error)
		return cur, nil
	case runErr != nil && ctx.Err() != nil:
		s.log.Info("job interrupted; it resumes at the next start", "job", j.ID, "processed", cur.Processed)
		return cur, runErr
	case errors.Is(runErr, ErrClaimLost) && s.sharded(cur):
		// Not the job's failure: this process lost its shards, which others now finish.
		s.log.Warn("job's shards lost by this process; its runner comes back to the job", "job", j.ID, "err", runErr)
		return cur, nil
	case runErr != nil:
		s.log.Error("job failed", "job", j.ID, "err", runErr)
		by := Actor{Name: cur.CreatedBy}
		err = s.audited(actx, func(c Catalog) (AuditEntry, error) {
			var err error
			cur, err = c.SetJobState(actx, j.ID, JobFailed, runErr.Error(), time.Now())
			return entry(by, "job.fail", ref("job", j.ID), []int64{j.GalleryID}, "", runErr.Error()), err
		})
		return cur, errors.Join(runErr, err)
	}
	by := Actor{Name: cur.CreatedBy}
	err = s.audited(actx, func(c Catalog) (AuditEntry, error) {
		var err error
		cur, err = c.SetJobState(actx, j.ID, JobDone, "", time.Now())
		return entry(by, "job.done", ref("job", j.ID), []int64{j.GalleryID}, "",
			fmt.Sprintf("processed=%d stored=%d duplicates=%d no_face=%d failed=%d faces=%d matches=%d possible_minors=%d",
				cur.Processed, cur.Stored, cur.Duplicates, cur.NoFace, cur.Failed, cur.Faces, cur.Matches, cur.PossibleMinors)), err
	})
	if err == nil {
		// The uploaded photos now live as images, or were refused, and a done job is never
		// resumed: its archive and sidecar go (a crash before this leaves them to the sweeper,
		// for which a done job references nothing).
		s.deleteBlobs(actx, cur.Spec.BlobKeys())
	}
	s.log.Info("job done", "job", j.ID, "processed", cur.Processed, "failed", cur.Failed, "matches", cur.Matches)
	return cur, err
}

// CancelJob stops a job; the files it finished stay stored and it can be resumed.
func (s *Service) CancelJob(ctx context.Context, a Actor, id int64) (Job, error) {
	j, err := s.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State.Finished() {
		return j, fmt.Errorf("job %d is already %s: %w", id, j.State, ErrConflict)
	}
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		j, err = c.SetJobState(ctx, id, JobCancelled, "", time.Now())
		return entry(a, "job.cancel", ref("job", id), []int64{j.GalleryID}, "", fmt.Sprintf("processed=%d", j.Processed)), err
	})
	return j, err
}

// ResumeJob queues a cancelled or failed job again.
func (s *Service) ResumeJob(ctx context.Context, a Actor, id int64) (Job, error) {
	j, err := s.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return j, err
	}
	if j.State != JobCancelled && j.State != JobFailed {
		return j, fmt.Errorf("job %d is %s: only cancelled or failed jobs are resumed: %w", id, j.State, ErrConflict)
	}
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		j, err = c.SetJobState(ctx, id, JobQueued, "", time.Now())
		return entry(a, "job.resume", ref("job", id), []int64{j.GalleryID}, "", fmt.Sprintf("processed=%d", j.Processed)), err
	})
	if err != nil {
		return j, err
	}
	if s.cfg.JobQueued != nil {
		s.cfg.JobQueued()
	}
	return j, nil
}

// Job returns a job with its rate and ETA.
func (s *Service) Job(ctx context.Context, a Actor, id int64) (JobView, error) {
	j, err := s.cfg.Catalog.Job(ctx, id)
	if err != nil {
		return ViewOf(j, time.Now()), err
	}
	if err := checkGallery(a, j.GalleryID); err != nil {
		return JobView{}, err
	}
	return ViewOf(j, time.Now()), nil
}

// Jobs pages through the jobs of the galleries a may read, newest first.
func (s *Service) Jobs(ctx context.Context, a Actor, f JobFilter) ([]JobView, error) {
	if a.Galleries != nil {
		f.Galleries = a.Galleries
	}
	js, err := s.cfg.Catalog.Jobs(ctx, f)
	now := time.Now()
	out := make([]JobView, len(js))
	for i, j := range js {
		out[i] = ViewOf(j, now)
	}
	return out, err
}

// JobItems pages through a job's finished files (state "" for all, "failed" for failures).
func (s *Service) JobItems(ctx context.Context, a Actor, id int64, state JobItemState, after string, limit int) ([]JobItem, error) {
	if _, err := s.Job(ctx, a, id); err != nil {
		return nil, err
	}
	switch state {
	case "", ItemStored, ItemDuplicate, ItemNoFace, ItemFailed:
	default:
		return nil, fmt.Errorf("state must be stored, duplicate, no_face or failed, got %q: %w", state, ErrInvalid)
	}
	return s.cfg.Catalog.JobItems(ctx, id, state, after, limit)
}
