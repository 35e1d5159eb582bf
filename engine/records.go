package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The records the service keeps about galleries, photos, faces, searches and reviews. They are
// metadata: original photos and thumbnails live in the blob store, vectors in the index. The
// metadata store (internal/catalog) is the source of truth; the index is derived from it.

// Errors of the metadata store, mapped to HTTP statuses in one place (api).
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts stored state (a duplicate name, a second decision by
	// the same reviewer, a gallery of the wrong kind).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request is malformed (unknown kind, empty name, bad cursor).
	ErrInvalid = errors.New("invalid request")
	// ErrForbidden: the actor may not do this to this record (the searcher deciding a match).
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the service cannot take the request now (overloaded, a store busy or
	// unreachable); nothing was changed and the same request may be retried later. Wrap it in a
	// RetryAfter to say when.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrTooLarge: the request's photo is over a limit (bytes, pixels, or heavier to analyse
	// than the whole memory budget).
	ErrTooLarge = errors.New("too large")
	// ErrUnsupported: the photo is in no format the service reads.
	ErrUnsupported = errors.New("unsupported format")
	// ErrMalformed: the photo's bytes are empty, cut short or corrupt.
	ErrMalformed = errors.New("malformed")
)

// kindError gives err one of the service's error kinds while keeping err's own message and
// chain: the API maps the kind, callers that know the cause still find it.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind marks err with kind.
func withKind(kind, err error) error { return &kindError{kind: kind, err: err} }

// RetryAfter is an ErrUnavailable that says how long the client should wait before retrying.
type RetryAfter struct {
	Err   error // wraps ErrUnavailable
	After time.Duration
}

func (e *RetryAfter) Error() string { return e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// RetryDelay is how long a client should wait before retrying after err: the RetryAfter in
// err's chain, or def.
func RetryDelay(err error, def time.Duration) time.Duration {
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.After > 0 {
		return ra.After
	}
	return def
}

// GalleryKind says what a gallery holds.
type GalleryKind string

const (
	// Reference galleries hold known persons (wanted, missing, notices): every photo belongs to
	// a subject.
	Reference GalleryKind = "reference"
	// Collection galleries hold photos gathered from ads, without identities.
	Collection GalleryKind = "collection"
)

// Valid reports whether k is a known kind.
func (k GalleryKind) Valid() bool { return k == Reference || k == Collection }

// Gallery is a set of photos bound to one embedding model: faces of different models are never
// compared.
type Gallery struct {
	ID        int64       `json:"id"`
	Name      string      `json:"name"`
	Kind      GalleryKind `json:"kind"`
	Model     string      `json:"model"` // embedding model identity (name@sha256 prefix)
	CreatedAt time.Time   `json:"created_at"`
	CreatedBy string      `json:"created_by"`
	Images    int         `json:"images"`
	Faces     int         `json:"faces"`
	Subjects  int         `json:"subjects"`
	// TargetFPIR is the share of searches of a stranger that may bring a review item from this
	// gallery (0: DefaultTargetFPIR); its threshold follows from it and the gallery's size.
	TargetFPIR float64 `json:"target_fpir"`
	// Minors marks a gallery of children (a missing-children gallery): its candidates are
	// judged under the minors' line and bands.
	Minors bool `json:"minors"`
	// Operating is the threshold at the gallery's current size (filled by the service).
	Operating *OperatingPoint `json:"operating_point,omitempty"`
}

// Subject is a known person in a reference gallery.
type Subject struct {
	ID          int64     `json:"id"`
	GalleryID   int64     `json:"gallery_id"`
	Name        string    `json:"name"`
	ExternalRef string    `json:"external_ref,omitempty"` // e.g. a notice number
	Notes       string    `json:"notes,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	Faces       int       `json:"faces"`
}

// Source is where an ad photo came from. Every field is optional.
type Source struct {
	URL         string     `json:"source_url,omitempty"`
	Site        string     `json:"site,omitempty"`
	AdID        string     `json:"ad_id,omitempty"`
	Usernames   []string   `json:"usernames,omitempty"`
	Phones      []string   `json:"phones,omitempty"` // E.164 where the number could be normalised
	PostedAt    *time.Time `json:"posted_at,omitempty"`
	CollectedAt *time.Time `json:"collected_at,omitempty"`
	CaseRef     string     `json:"case_ref,omitempty"`
}

// Image is one stored photo. The same bytes are stored once per gallery (SHA256).
type Image struct {
	ID          int64     `json:"id"`
	GalleryID   int64     `json:"gallery_id"`
	SubjectID   *int64    `json:"subject_id,omitempty"`
	SHA256      string    `json:"sha256"`
	Format      string    `json:"format"` // jpeg, png, gif, webp, bmp, tiff
	Bytes       int64     `json:"bytes"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	BlobKey     string    `json:"-"`
	Source      Source    `json:"source"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	OriginJobID *int64    `json:"job_id,omitempty"`
	// Hashes are the photo's perceptual hashes as stored for finding reposts
	// (neardup.Stored: whole, crops, mirror); set when it is stored, never read back.
	Hashes []uint64 `json:"-"`
}

// Box is a face box in original image pixels.
type Box struct {
	X, Y, W, H float32
}

// StoredFace is one detected face of a stored image. Faces the quality gate refused are kept
// (the analyst sees why) but have no vector and are never searched.
type StoredFace struct {
	ID         int64       `json:"id"`
	ImageID    int64       `json:"image_id"`
	GalleryID  int64       `json:"gallery_id"`
	SubjectID  *int64      `json:"subject_id,omitempty"`
	Box        Box         `json:"box"`
	Landmarks  [10]float32 `json:"landmarks"` // x,y of right eye, left eye, nose, mouth corners
	Quality    Quality     `json:"quality"`
	Rejections []string    `json:"rejections,omitempty"`
	Model      string      `json:"model,omitempty"` // set when the face has a vector in the index
	ThumbKey   string      `json:"-"`
	// Age is the face's apparent-age estimate; NoAge says why it has none.
	Age   *ApparentAge `json:"apparent_age,omitempty"`
	NoAge string       `json:"no_age_reason,omitempty"`
}

// Accepted reports whether the face passed the quality gate (and so is searchable).
func (f StoredFace) Accepted() bool { return len(f.Rejections) == 0 }

// MatchStatus is where a review item stands.
type MatchStatus string

// Decisions a reviewer can record, and the statuses a match can have.
const (
	Pending            MatchStatus = "pending"
	PotentialCandidate MatchStatus = "potential_candidate"
	NoCandidate        MatchStatus = "no_candidate"
	Inconclusive       MatchStatus = "inconclusive"
	Disputed           MatchStatus = "disputed"
)

// ValidDecision reports whether d is a decision a reviewer may record.
func ValidDecision(d MatchStatus) bool {
	return d == PotentialCandidate || d == NoCandidate || d == Inconclusive
}

// Final reports whether s is a final status: the required reviewers agreed on it. A final match
// takes no further decision (only an explicit adjudication may reopen it).
func (s MatchStatus) Final() bool { return ValidDecision(s) }

// Decision is one reviewer's verdict on a match.
type Decision struct {
	Reviewer  string      `json:"reviewer"`
	Decision  MatchStatus `json:"decision"`
	Note      string      `json:"note,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
}

// Match is a review item: a probe face, a candidate face and their similarity. Probe faces are
// faces of a search's probe photo, or of a collection photo when a job cross-matched it.
type Match struct {
	ID          int64       `json:"id"`
	SearchID    *int64      `json:"search_id,omitempty"`
	JobID       *int64      `json:"job_id,omitempty"`
	ProbeFaceID int64       `json:"probe_face_id"`
	FaceID      int64       `json:"face_id"` // the candidate
	GalleryID   int64       `json:"gallery_id"`
	SubjectID   *int64      `json:"subject_id,omitempty"`
	ImageID     int64       `json:"image_id"`
	Similarity  float32     `json:"similarity"`
	Rank        int         `json:"rank"`
	Status      MatchStatus `json:"status"`
	RequestedBy string      `json:"requested_by"` // who ran the search or the job: never a reviewer of it
	CreatedAt   time.Time   `json:"created_at"`
	Decisions   []Decision  `json:"decisions"`
	// CaseRef is the case of the probe: the search's, or the cross-matched photo's.
	CaseRef     string `json:"case_ref,omitempty"`
	SubjectName string `json:"subject_name,omitempty"`
	// Model is the gallery's embedding model, which measured Similarity; Band is Similarity's
	// calibrated band for it (set by the service).
	Model string `json:"model,omitempty"`
	Band  string `json:"band,omitempty"`
	// Minors is the candidate gallery's: its band is the minors'.
	Minors bool `json:"minors,omitempty"`
	// PersonID is the suggested person a person-level item was made for (a person search, a
	// job's cross-match into a collection): the person is proposed once per subject.
	PersonID *int64 `json:"person_id,omitempty"`
	// ProbeAge is the probe face's apparent age, and PossibleMinor its flag: the review of
	// possible minors goes first (MinorsFirst); it decides nothing.
	ProbeAge      *ApparentAge `json:"probe_apparent_age,omitempty"`
	PossibleMinor bool         `json:"possible_minor"`
}

// Resolve computes a match's status from its decisions, in the order they were made: final
// when the first `required` distinct reviewers agree; disputed as soon as two disagree before
// that, until another reviewer adjudicates: the first decision after the disagreement is final
// (with a note: CheckDecision). Decisions after a final one do not count (DecisionRefusal
// refuses them); pending otherwise.
func Resolve(decisions []Decision, required int) MatchStatus {
	if len(decisions) == 0 {
		return Pending
	}
	first := decisions[0].Decision
	for i, d := range decisions {
		if d.Decision != first {
			if i+1 < len(decisions) {
				return decisions[i+1].Decision // the adjudication
			}
			return Disputed
		}
		if i+1 >= required {
			return first
		}
	}
	return Pending
}

// CheckDecision refuses a decision the match's state does not allow as given: adjudicating a
// disputed match settles it for good, so it must say why.
func CheckDecision(m Match, note string) error {
	if m.Status == Disputed && strings.TrimSpace(note) == "" {
		return fmt.Errorf("match %d is disputed: your decision settles it, so it needs a note saying why: %w", m.ID, ErrInvalid)
	}
	return nil
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`  // credential name
	Action    string    `json:"action"` // e.g. search.create, match.decide, image.delete
	Target    string    `json:"target,omitempty"`
	Galleries []int64   `json:"galleries,omitempty"`
	Input     string    `json:"input,omitempty"`      // e.g. the probe's sha256 and parameters, never image bytes
	Result    string    `json:"result,omitempty"`     // e.g. the match IDs returned
	RequestID string    `json:"request_id,omitempty"` // the server's ID of the request
	// ClientRequestID is the X-Request-ID the client sent, kept only when it is short and
	// well-formed: a client may name its requests, but not the server's.
	ClientRequestID string `json:"client_request_id,omitempty"`
	// PrevHash is the previous entry's Hash ("" for the first); Hash is sha256 over PrevHash
	// and this entry's fields, set by the log when it appends the entry. Together they chain
	// the log: changing or removing an entry breaks the chain (facematch audit verify).
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}
