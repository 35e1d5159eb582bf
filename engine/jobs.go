package engine

import (
	"context"
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
	// MinSim (default: the medium band's line) become pending matches, at most K per face.
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
	if key, ok := strings.CutPrefix(s.Source, uploadPrefix); ok && key != "" {
		keys = append(keys, key)
	}
	if s.MetaKey != "" {
		keys = append(keys, s.MetaKey)
	}
	return keys
}

// Job is a batch job and its progress.
type Job struct {
	ID         int64      `json:"id"`
	Kind       JobKind    `json:"kind"`
	GalleryID  int64      `json:"gallery_id"`
	Spec       JobSpec    `json:"spec"`
	State      JobState   `json:"state"`
	Total      int        `json:"total"` // files in the source (-1 until counted)
	Processed  int        `json:"processed"`
	Stored     int        `json:"stored"`
	Duplicates int        `json:"duplicates"`
	NoFace     int        `json:"no_face"`
	Failed     int        `json:"failed"`
	Faces      int        `json:"faces"`
	Matches    int        `json:"matches"`
	Error      string     `json:"error,omitempty"`
	SearchID   *int64     `json:"search_id,omitempty"` // the cross-match's search record
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
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
