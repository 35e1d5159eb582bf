package engine

import (
	"context"
	"time"
)

// The metadata store, as the service uses it: small interfaces, one per concern, which
// internal/catalog implements on SQLite. Every method returns ErrNotFound, ErrConflict or
// ErrInvalid (wrapped) for the caller's mistakes and anything else for store trouble.

// GalleryStore keeps galleries and their subjects.
type GalleryStore interface {
	CreateGallery(ctx context.Context, g Gallery) (Gallery, error)
	Gallery(ctx context.Context, id int64) (Gallery, error)
	Galleries(ctx context.Context) ([]Gallery, error)
	SetGalleryPolicy(ctx context.Context, id int64, targetFPIR float64, minors bool) error
	CreateSubject(ctx context.Context, s Subject) (Subject, error)
	// UpdateSubject stores s's name, external reference and notes (ErrNotFound for an unknown
	// ID) and returns the stored subject.
	UpdateSubject(ctx context.Context, s Subject) (Subject, error)
	Subject(ctx context.Context, id int64) (Subject, error)
	Subjects(ctx context.Context, galleryID int64) ([]Subject, error)
}

// NewFace is a face to store with its image: the record, and its vector when it has one.
type NewFace struct {
	Face   StoredFace
	Vector []float32 // nil for faces the quality gate refused
}

// ImageStore keeps photos and their faces. Vectors are kept with the faces: they are the source
// of truth the index is rebuilt from.
type ImageStore interface {
	// AddImage stores an image and its faces in one transaction and returns them with IDs. An
	// image whose SHA256 is already in the gallery is not stored again: AddImage returns the
	// stored one, its faces, and ErrConflict.
	AddImage(ctx context.Context, img Image, faces []NewFace) (Image, []StoredFace, error)
	Image(ctx context.Context, id int64) (Image, error)
	// Images lists a gallery's photos a page at a time.
	Images(ctx context.Context, f ImageFilter) ([]Image, error)
	Faces(ctx context.Context, imageID int64) ([]StoredFace, error)
	Face(ctx context.Context, id int64) (StoredFace, error)
	// ImagesWithContact returns up to limit photos whose ad carries the contact, newest first,
	// in galleries (nil: all).
	ImagesWithContact(ctx context.Context, c Contact, galleries []int64, limit int) ([]Image, error)
	// FacesByID returns the faces that exist among ids (deleted ones are simply absent).
	FacesByID(ctx context.Context, ids []int64) (map[int64]StoredFace, error)
	// Vectors calls fn with every stored vector of model, in face ID order (index rebuilds).
	Vectors(ctx context.Context, model string, fn func(faceID, galleryID int64, v []float32) error) error
}

// ImageFilter selects a gallery's photos (of one subject when SubjectID is set), after Cursor
// (the last image ID of the previous page).
type ImageFilter struct {
	GalleryID int64
	SubjectID int64
	Cursor    int64
	Limit     int
}

// Purge is what a deletion leaves to remove outside the metadata store: blobs and index
// vectors. Deletions record it durably before they return so that a crash cannot leave
// biometric data behind; the service removes it and then calls PurgeDone.
type Purge struct {
	ID       int64
	BlobKeys []string
	FaceIDs  map[string][]int64 // model → face IDs in that model's index
}

// RetentionPolicy is how long the service keeps what searches leave behind.
type RetentionPolicy struct {
	// SearchDays: a search older than this whose review is over (every item it made decided no
	// candidate or inconclusive, or none made) is deleted with its probe photo, thumbnails,
	// candidates, items and decisions. 0 keeps searches for ever. Searches with an item still
	// open or a potential candidate are kept: they are the case's evidence.
	SearchDays int `json:"search_days"`
}

// RetentionStore keeps the retention policy and finds what it expires.
type RetentionStore interface {
	RetentionPolicy(ctx context.Context) (RetentionPolicy, error)
	SetRetentionPolicy(ctx context.Context, p RetentionPolicy) error
	// ExpiredSearches returns up to limit searches created before before that the policy may
	// delete (see RetentionPolicy), oldest first.
	ExpiredSearches(ctx context.Context, before time.Time, limit int) ([]int64, error)
	// DeleteSearch deletes a search with everything made from it and returns the purge of its
	// probe photo and thumbnails.
	DeleteSearch(ctx context.Context, id int64) (Purge, error)
}

// Deleter removes records and returns the purge they leave.
type Deleter interface {
	DeleteGallery(ctx context.Context, id int64) (Purge, error)
	DeleteSubject(ctx context.Context, id int64) (Purge, error)
	DeleteImage(ctx context.Context, id int64) (Purge, error)
	PendingPurges(ctx context.Context) ([]Purge, error)
	PurgeDone(ctx context.Context, id int64) error
}

// ProbeFace is a face of a search's probe photo.
type ProbeFace struct {
	ID         int64    `json:"id"`
	SearchID   int64    `json:"search_id"`
	Box        Box      `json:"box"`
	Quality    Quality  `json:"quality"`
	Rejections []string `json:"rejections,omitempty"`
	// FaceID is the stored face this probe is, for a job's cross-match (the collection photo's
	// face); nil for a search's uploaded probe.
	FaceID   *int64 `json:"face_id,omitempty"`
	ThumbKey string `json:"-"`
	// Age is the face's apparent-age estimate; NoAge says why it has none.
	Age   *ApparentAge `json:"apparent_age,omitempty"`
	NoAge string       `json:"no_age_reason,omitempty"`
}

func (p ProbeFace) possibleMinor() bool { return p.Age != nil && p.Age.PossibleMinor }

// SearchRecord is what a search asked and found.
type SearchRecord struct {
	ID          int64   `json:"id"`
	Actor       string  `json:"actor"`
	Purpose     string  `json:"purpose"`
	Galleries   []int64 `json:"galleries"`
	K           int     `json:"k"`
	MinSim      float32 `json:"min_similarity"`
	ProbeSHA256 string  `json:"probe_sha256"`
	ProbeKey    string  `json:"-"`
	// Source is the probe photo's ad metadata, as the analyst gave it.
	Source    Source    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	// PersonID is the suggested person a person search searched: its items are per (person,
	// subject), and one made earlier is reused.
	PersonID int64 `json:"person_id,omitempty"`
}

// Candidate is one index hit of one probe face. Review makes it a review item (a match).
type Candidate struct {
	ProbeIndex int // index into the probe faces passed with it
	FaceID     int64
	GalleryID  int64
	Similarity float32
	Rank       int
	// Threshold is the gallery's operating threshold when the search ran (nil: its model has
	// no measured tail).
	Threshold *float32
	Review    bool
}

// SearchCandidate is a candidate as its search recorded it, with the review item it became.
type SearchCandidate struct {
	ProbeFaceID int64    `json:"probe_face_id"`
	FaceID      int64    `json:"face_id"`
	GalleryID   int64    `json:"gallery_id"`
	ImageID     int64    `json:"image_id"`
	SubjectID   *int64   `json:"subject_id,omitempty"`
	SubjectName string   `json:"subject_name,omitempty"`
	Model       string   `json:"model"`
	Minors      bool     `json:"minors,omitempty"` // the gallery's: judged under the minors' line
	Similarity  float32  `json:"similarity"`
	Rank        int      `json:"rank"`
	Threshold   *float32 `json:"threshold,omitempty"`
	// MatchID is the review item, made by this search or by an earlier search of the same
	// photo (Reused); 0: the candidate was below the threshold and nobody sent it.
	MatchID int64       `json:"match_id,omitempty"`
	Status  MatchStatus `json:"status,omitempty"`
	Reused  bool        `json:"reused,omitempty"`
}

// ProbeGroup is one probe face's review items side by side, most similar first: a reviewer
// who finds one a potential candidate can close the others in one step.
type ProbeGroup struct {
	ProbeFaceID int64   `json:"probe_face_id"`
	Best        float32 `json:"best_similarity"`
	Items       []Match `json:"items"`
}

// QueueCount is how many review items of one gallery and case have one status, and when the
// oldest of them was created.
type QueueCount struct {
	GalleryID int64
	CaseRef   string
	Status    MatchStatus
	Items     int
	Oldest    time.Time
}

// MatchOrder is the order of a match list.
type MatchOrder string

// Orders of a match list. Age is the match's creation, which IDs follow.
const (
	OldestFirst      MatchOrder = "oldest" // the default
	NewestFirst      MatchOrder = "newest"
	MostSimilarFirst MatchOrder = "similarity" // ties: newest first
	// MinorsFirst puts the items whose probe face is a possible minor first, each part most
	// similar first (issue 16).
	MinorsFirst MatchOrder = "minors"
)

// ValidOrder reports whether o is a known order ("" is the default, oldest first).
func ValidOrder(o MatchOrder) bool {
	return o == "" || o == OldestFirst || o == NewestFirst || o == MostSimilarFirst || o == MinorsFirst
}

// MatchFilter selects matches. Zero fields do not filter.
type MatchFilter struct {
	Status      []MatchStatus
	GalleryID   int64
	SearchID    int64
	JobID       int64
	ProbeFaceID int64
	CaseRef     string
	MinSim      *float32
	MaxSim      *float32
	// Galleries, when not nil, keeps the matches of these galleries only (a scoped credential).
	Galleries []int64
	// ReviewableBy keeps the matches this reviewer may still decide: ones they neither
	// requested nor decided.
	ReviewableBy string
	// PossibleMinor, when set, keeps the items whose probe face is (true) or is not (false)
	// flagged a possible minor.
	PossibleMinor *bool
	Order         MatchOrder
	// Cursor is the last match of the previous page (0: from the start): its ID, under
	// MostSimilarFirst and MinorsFirst its similarity, under MinorsFirst its probe's flag.
	Cursor      int64
	CursorSim   float32
	CursorMinor bool
	Limit       int
}

// ReviewStore keeps searches, matches and decisions.
type ReviewStore interface {
	// RecordSearch stores a search, its probe faces and every candidate, and makes a match of
	// each candidate marked Review, unless an earlier search of the same photo (probe SHA-256
	// and face box) made one for the same face: then the candidate links to it. It returns the
	// records with IDs (candidates in the order of cands, less any deleted meanwhile).
	RecordSearch(ctx context.Context, s SearchRecord, probes []ProbeFace, cands []Candidate) (SearchRecord, []ProbeFace, []SearchCandidate, error)
	// SearchCandidates returns a search's candidates, by probe face and rank.
	SearchCandidates(ctx context.Context, searchID int64) ([]SearchCandidate, error)
	// RequestReview makes a review item of a search's candidate (or returns the one it is);
	// created is false when it already was one.
	RequestReview(ctx context.Context, searchID, probeFaceID, faceID int64, requester string, now time.Time) (c SearchCandidate, created bool, err error)
	Search(ctx context.Context, id int64) (SearchRecord, []ProbeFace, error)
	ProbeFace(ctx context.Context, id int64) (ProbeFace, error)
	Match(ctx context.Context, id int64) (Match, error)
	Matches(ctx context.Context, f MatchFilter) ([]Match, error)
	// ProbeGroups returns a page of probe faces with the matches f selects, grouped (see
	// ProbeGroup); f.Cursor and f.CursorSim are the last group's probe face and best similarity.
	ProbeGroups(ctx context.Context, f MatchFilter) ([]ProbeGroup, error)
	// CountMatches counts the matches f selects, ignoring its cursor and limit.
	CountMatches(ctx context.Context, f MatchFilter) (int, error)
	// QueueCounts counts the review items of every gallery and case by status, with the
	// oldest's time.
	QueueCounts(ctx context.Context) ([]QueueCount, error)
	// Decide records reviewer's decision and returns the match with its new status. The
	// requester may not decide (ErrForbidden); a reviewer decides once (ErrConflict).
	Decide(ctx context.Context, matchID int64, reviewer string, d MatchStatus, note string, required int) (Match, error)
}

// AuditFilter selects audit entries after Cursor (an entry ID), oldest first.
type AuditFilter struct {
	Since  time.Time
	Until  time.Time // entries before it; zero: no end
	Actor  string
	Action string
	// Oldest pages from the first entry on; the default is the newest first, which is what an
	// auditor reads. Cursor is the last ID of the previous page in either order.
	Oldest bool
	Cursor int64
	Limit  int
}

// AuditLog is append-only: there is no way to change or remove an entry. Append chains each
// entry to the one before it (PrevHash, Hash), so that a change made behind the store's back
// shows.
type AuditLog interface {
	Append(ctx context.Context, e AuditEntry) (AuditEntry, error)
	Entries(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Role is what a credential may do.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"    // credentials, galleries, deletion
	RoleAnalyst  Role = "analyst"  // upload, search
	RoleReviewer Role = "reviewer" // decide matches
	RoleAuditor  Role = "auditor"  // read the audit log
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleAnalyst || r == RoleReviewer || r == RoleAuditor
}

// Token is a credential. Only the hash of its secret is stored. A credential belongs to a
// named person (User): the two-reviewer rule and "the searcher cannot decide" are about people,
// so a person holds at most one reviewer credential at a time and none of their credentials
// may decide what they asked for.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	User      string     `json:"user"`
	Role      Role       `json:"role"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// ExpiresAt is when the secret stops working (nil: never, for credentials made before
	// credentials expired); rotating the secret sets it anew.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// Galleries are the only galleries the credential may read and act on; nil means all.
	// Only analyst and reviewer credentials are scoped.
	Galleries []int64 `json:"galleries,omitempty"`
}

// Expired reports whether t's secret has expired at now.
func (t Token) Expired(now time.Time) bool { return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) }

// TokenStore keeps credentials.
type TokenStore interface {
	// CreateToken stores a credential; a second active reviewer credential of one user is
	// ErrConflict.
	CreateToken(ctx context.Context, t Token) (Token, error)
	TokenByHash(ctx context.Context, hash string) (Token, error)
	Token(ctx context.Context, id int64) (Token, error)
	Tokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) (Token, error)
	// RotateToken replaces an active credential's secret (its hash) and expiry: the old secret
	// stops working at once.
	RotateToken(ctx context.Context, id int64, hash string, at, expires time.Time) (Token, error)
	// TouchToken records that the credential was used at.
	TouchToken(ctx context.Context, id int64, at time.Time) error
	// ScopeToken sets the galleries a credential may read (nil: all).
	ScopeToken(ctx context.Context, id int64, galleries []int64) (Token, error)
}
