package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine/cluster"
	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/index"
)

// Persons are suggested: the faces of a collection clustered (engine/cluster, the method and
// setting chosen by `facematch eval cluster`: Infomap on the 50-nearest-neighbour graph above
// 0.87, edges weighted e^(s/0.05); pairwise precision 0.996 on LFW, 0.982 on CFP, 1.000 on CFP's
// frontal photos). A person is a proposal that several ad photos show one person; people
// confirm it, and it never names anyone.

// Clustering settings (bench/RESULTS.md "Clustering"): each face's PersonK nearest neighbours,
// edges at or above PersonLine (on the gallery's model's similarity).
const (
	PersonK    = 50
	PersonLine = 0.87
	personSeed = 1
)

// ClusterFace is a searchable face as clustering reads it.
type ClusterFace struct {
	FaceID, ImageID int64
	Vector          []float32
	Quality         float64 // sharpness × frontalness: the representative is the best
	// Minor says the face looks under 18: it joins others only above the children's line.
	Minor bool
}

// PersonMember is a face of a person and its similarity to the person's mean.
type PersonMember struct {
	FaceID     int64
	Similarity float32
}

// PersonFace is a member face with its photo's ad details.
type PersonFace struct {
	FaceID     int64     `json:"face_id"`
	ImageID    int64     `json:"image_id"`
	Similarity float32   `json:"similarity"` // to the person's mean vector
	Quality    Quality   `json:"quality"`
	Source     Source    `json:"source"`
	StoredAt   time.Time `json:"stored_at"`
	// Age is the face's apparent-age estimate (nil: none, see the face's record).
	Age *ApparentAge `json:"apparent_age,omitempty"`
}

// ContactCount is one contact detail of a person's ads: in how many photos, first and last
// seen (the ads' dates, else when the photo was stored).
type ContactCount struct {
	Contact
	Photos    int       `json:"photos"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Person is a suggested person of a collection.
type Person struct {
	ID        int64     `json:"id"`
	GalleryID int64     `json:"gallery_id"`
	CreatedAt time.Time `json:"created_at"` // when the clustering that made it ran
	Size      int       `json:"size"`
	// Representative is the member face of best quality; Cohesion the mean similarity of the
	// members to the person's mean vector.
	Representative int64          `json:"representative_face_id"`
	Cohesion       float32        `json:"cohesion"`
	FirstSeen      time.Time      `json:"first_seen"`
	LastSeen       time.Time      `json:"last_seen"`
	Contacts       []ContactCount `json:"contacts"`
	Faces          []PersonFace   `json:"faces,omitempty"`
	// Links are the persons it shares contact details or reposted photos with (PersonByID).
	Links []PersonLink `json:"links,omitempty"`
	// ConfirmedBy is the reviewer who confirmed the person: it then keeps its members when the
	// gallery is clustered again.
	ConfirmedBy string     `json:"confirmed_by,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	// CrossMatch is the highest similarity of the review items its faces made against
	// reference galleries the reader may see (person searches, jobs' cross-matches), and how
	// many; nil when none (Persons only).
	CrossMatch *PersonMatchScore `json:"cross_match,omitempty"`
	// Age is the median of its faces' apparent ages (years and range bounds each), flagged
	// under the line; nil when no face has an estimate. AgedFaces is how many have one.
	Age       *ApparentAge `json:"apparent_age,omitempty"`
	AgedFaces int          `json:"aged_faces"`
	// AgeMeaning says what the estimate is and is not (PersonByID, when it has one).
	AgeMeaning string `json:"age_meaning,omitempty"`
}

func (p Person) possibleMinor() bool { return p.Age != nil && p.Age.PossibleMinor }

// PersonMatchScore sums up the review items a person's faces made against one reference gallery
// (or, on a person, against all those the reader may see: GalleryID 0).
type PersonMatchScore struct {
	GalleryID  int64   `json:"gallery_id,omitempty"`
	Similarity float32 `json:"similarity"`
	Items      int     `json:"items"`
}

// PersonStore keeps suggested persons.
type PersonStore interface {
	GalleryFaces(ctx context.Context, galleryID int64, model string) ([]ClusterFace, error)
	ReplacePersons(ctx context.Context, galleryID int64, persons [][]PersonMember, now time.Time) error
	// Persons returns a gallery's persons (personID 0) or one person, with member faces.
	Persons(ctx context.Context, galleryID, personID int64) ([]Person, error)
	// PersonsOfImages returns, per photo, the persons its faces are in.
	PersonsOfImages(ctx context.Context, imageIDs []int64) (map[int64][]PersonRef, error)
	// PersonsWithContact returns the persons some of whose photos' ads carry c.
	PersonsWithContact(ctx context.Context, c Contact) ([]PersonRef, error)
	ConfirmPerson(ctx context.Context, id int64, reviewer string, now time.Time) error
	// RemovePersonFace takes a face out of a person for good (ErrNotFound when it is not in it).
	RemovePersonFace(ctx context.Context, id, faceID int64) error
	// MergePersons moves other's faces into id (one gallery; no photo twice: ErrConflict).
	MergePersons(ctx context.Context, id, other int64) error
	// FaceVectors returns the vectors of the faces among ids that have one.
	FaceVectors(ctx context.Context, ids []int64) (map[int64][]float32, error)
	// PersonMatchScores returns, per person of a gallery, per reference gallery, the best
	// similarity of the review items its faces made and their number.
	PersonMatchScores(ctx context.Context, galleryID int64) (map[int64][]PersonMatchScore, error)
	// SplitPerson moves faces of a person into a new one and returns its ID.
	SplitPerson(ctx context.Context, id int64, faceIDs []int64, now time.Time) (int64, error)
	// GalleryFaceLinks and FaceLinksOf return reviewers' judgements about pairs of faces (of a
	// gallery, or involving any of ids); AddFaceLinks records them, a later one of a pair
	// replacing the earlier.
	GalleryFaceLinks(ctx context.Context, galleryID int64) ([]FaceLink, error)
	FaceLinksOf(ctx context.Context, ids []int64) ([]FaceLink, error)
	AddFaceLinks(ctx context.Context, links []FaceLink) error
	// PersonsOfFaces maps each face among ids that is in a person to it; PersonMembers returns
	// the member faces (face and photo, no vector) of the persons among ids no reviewer
	// confirmed.
	PersonsOfFaces(ctx context.Context, ids []int64) (map[int64]int64, error)
	PersonMembers(ctx context.Context, ids []int64) (map[int64][]ClusterFace, error)
	// UnassignedFaces returns up to limit searchable faces of a gallery that are in no person.
	UnassignedFaces(ctx context.Context, galleryID int64, model string, limit int) ([]ClusterFace, error)
	// AssignPersons puts faces into existing persons (joins) and new ones (fresh), returning
	// how many it placed; a face already in a person stays.
	AssignPersons(ctx context.Context, galleryID int64, joins map[int64][]PersonMember, fresh [][]PersonMember, now time.Time) (int, error)
}

// PersonRef names a person and its gallery.
type PersonRef struct {
	ID        int64 `json:"id"`
	GalleryID int64 `json:"gallery_id"`
}

// PersonLink is another person tied to this one, with the evidence: the contact details their
// ads share and the photos one reposts of the other's.
type PersonLink struct {
	PersonRef
	Contacts []Contact  `json:"contacts,omitempty"`
	Reposts  [][2]int64 `json:"reposts,omitempty"` // (this person's photo, theirs)
}

// ClusterReport is what a clustering run made.
type ClusterReport struct {
	GalleryID  int64   `json:"gallery_id"`
	Faces      int     `json:"faces"`
	Persons    int     `json:"persons"` // of two faces or more
	Singletons int     `json:"singletons"`
	Seconds    float64 `json:"seconds"`
}

// Up to exactGraphFaces faces, the k-nearest-neighbour graph is exact (brute force, quadratic);
// beyond, each face's neighbours come from the gallery's index, searched at clusterEf: the graph
// only needs the neighbours above the line, which a modest search finds (bench/RESULTS.md
// "Clustering at scale"). maxClusterFaces bounds one run: its vectors are held in memory.
const (
	exactGraphFaces = 20_000
	clusterEf       = 128
	maxClusterFaces = 250_000
)

// ClusterGallery clusters a collection's faces into suggested persons from scratch, replacing
// its earlier ones; two faces of one photo are never one person. Audited.
func (s *Service) ClusterGallery(ctx context.Context, a Actor, galleryID int64) (ClusterReport, error) {
	start := time.Now()
	if err := checkGallery(a, galleryID); err != nil {
		return ClusterReport{}, err
	}
	g, err := s.cfg.Catalog.Gallery(ctx, galleryID)
	if err != nil {
		return ClusterReport{}, err
	}
	if g.Kind != Collection {
		return ClusterReport{}, fmt.Errorf("gallery %d is a reference gallery: persons are clustered from collections of ad photos: %w", g.ID, ErrInvalid)
	}
	faces, err := s.cfg.Catalog.GalleryFaces(ctx, galleryID, g.Model)
	if err != nil {
		return ClusterReport{}, err
	}
	if len(faces) > maxClusterFaces {
		return ClusterReport{}, fmt.Errorf("gallery %d has %d faces; clustering runs on %d at most for now: %w", g.ID, len(faces), maxClusterFaces, ErrInvalid)
	}
	graph := func() (cluster.Graph, error) {
		if len(faces) <= exactGraphFaces {
			vs := make([][]float32, len(faces))
			for i, f := range faces {
				vs[i] = f.Vector
			}
			return cluster.KNN(vs, PersonK), nil
		}
		return s.indexGraph(ctx, g, faces, PersonK)
	}
	links, err := s.cfg.Catalog.GalleryFaceLinks(ctx, galleryID)
	if err != nil {
		return ClusterReport{}, err
	}
	knn, err := graph()
	if err != nil {
		return ClusterReport{}, err
	}
	minorEdges(knn.Adj, faces, s.minorPersonLine(g.Model))
	groups := clusterFaces(faces, knn, links)
	rep := ClusterReport{GalleryID: galleryID, Faces: len(faces)}
	var persons [][]PersonMember
	for _, members := range groups {
		if len(members) == 1 {
			rep.Singletons++
		} else {
			rep.Persons++
		}
		persons = append(persons, members)
	}
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		if err := c.ReplacePersons(ctx, galleryID, persons, time.Now()); err != nil {
			return AuditEntry{}, err
		}
		return entry(a, "persons.cluster", ref("gallery", galleryID), []int64{galleryID},
			fmt.Sprintf("method=infomap weight=exp k=%d line=%g minors_line=%.4g", PersonK, PersonLine, s.minorPersonLine(g.Model)), fmt.Sprintf("faces=%d persons=%d singletons=%d", rep.Faces, rep.Persons, rep.Singletons)), nil
	})
	rep.Seconds = time.Since(start).Seconds()
	return rep, err
}

// clusterFaces groups faces into persons, biggest first, each member with its similarity to
// the person's mean. Reviewers' judgements always hold (cluster.Apply): persons they merged stay
// together, faces they split stay apart, and two faces of one photo are never one person (the
// one less like the rest leaves).
func clusterFaces(faces []ClusterFace, knn cluster.Graph, links []FaceLink) [][]PersonMember {
	vs := make([][]float32, len(faces))
	for i, f := range faces {
		vs[i] = f.Vector
	}
	labels := cluster.Infomap(knn, PersonLine, cluster.ExpWeight(PersonLine), personSeed)
	// Who leaves a cluster to honour a constraint: the member least like its cluster's mean.
	labels = cluster.Apply(labels, simToMean(vs, labels), constraintsOf(faces, links))
	sims := simToMean(vs, labels)
	byLabel := map[int][]PersonMember{}
	for i, l := range labels {
		byLabel[l] = append(byLabel[l], PersonMember{FaceID: faces[i].FaceID, Similarity: sims[i]})
	}
	out := make([][]PersonMember, 0, len(byLabel))
	for _, members := range byLabel {
		sort.SliceStable(members, func(a, b int) bool { return members[a].Similarity > members[b].Similarity })
		out = append(out, members)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if len(out[a]) != len(out[b]) {
			return len(out[a]) > len(out[b])
		}
		return out[a][0].FaceID < out[b][0].FaceID
	})
	return out
}

// simToMean is each vector's similarity to the normalised mean of its cluster's vectors.
func simToMean(vs [][]float32, labels []int) []float32 {
	means := map[int][]float32{}
	for i, l := range labels {
		m := means[l]
		if m == nil {
			m = make([]float32, len(vs[i]))
			means[l] = m
		}
		for d, x := range vs[i] {
			m[d] += x
		}
	}
	for _, m := range means {
		face.Normalize(m)
	}
	out := make([]float32, len(vs))
	for i, l := range labels {
		out[i] = face.Dot(vs[i], means[l])
	}
	return out
}

// indexGraph is the k-nearest-neighbour graph of faces read from the gallery's index
// (index.NeighbourGraph: one search per face, on every core); faces of the index that are not
// among faces (a confirmed person's) are left out of the neighbours.
func (s *Service) indexGraph(ctx context.Context, g Gallery, faces []ClusterFace, k int) (cluster.Graph, error) {
	ix, ok := s.cfg.Indexes[g.Model]
	if !ok {
		return cluster.Graph{}, fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
	}
	at := make(map[int64]int32, len(faces))
	for i, f := range faces {
		at[f.FaceID] = int32(i)
	}
	ids, lists, err := ix.NeighbourGraph(ctx, g.Model, index.Filter{Galleries: []uint64{uint64(g.ID)}, Ef: clusterEf}, k, 0)
	if err != nil {
		return cluster.Graph{}, fmt.Errorf("service: neighbours of gallery %d: %w", g.ID, err)
	}
	adj := make([][]cluster.Edge, len(faces))
	for n, id := range ids {
		i, ok := at[int64(id)]
		if !ok {
			continue
		}
		for _, h := range lists[n] {
			if j, ok := at[int64(h.ID)]; ok {
				adj[i] = append(adj[i], cluster.Edge{To: j, Sim: h.Similarity})
			}
		}
	}
	return cluster.Graph{Adj: adj}, nil
}

// PersonOrder orders a gallery's persons.
type PersonOrder string

// Orders of persons.
const (
	PersonsBySize   PersonOrder = "size"   // the default
	PersonsByRecent PersonOrder = "recent" // last seen, newest first
	PersonsByScore  PersonOrder = "score"  // the best cross-match first; persons without one last
	// PersonsMinorsFirst puts the persons whose faces' median apparent age is flagged a
	// possible minor first, each part by size (issue 16).
	PersonsMinorsFirst PersonOrder = "minors"
)

// PersonQuery selects and orders a gallery's persons.
type PersonQuery struct {
	Order PersonOrder
	// PossibleMinor, when set, keeps the persons flagged (true) or not flagged (false) a
	// possible minor.
	PossibleMinor *bool
}

// Persons lists a collection's suggested persons of two faces or more (faces left out).
func (s *Service) Persons(ctx context.Context, a Actor, galleryID int64, q PersonQuery) ([]Person, error) {
	order := q.Order
	if order != "" && order != PersonsBySize && order != PersonsByRecent && order != PersonsByScore && order != PersonsMinorsFirst {
		return nil, fmt.Errorf("order must be size, recent, score or minors, got %q: %w", order, ErrInvalid)
	}
	if err := checkGallery(a, galleryID); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Catalog.Gallery(ctx, galleryID); err != nil {
		return nil, err
	}
	ps, err := s.cfg.Catalog.Persons(ctx, galleryID, 0)
	if err != nil {
		return nil, err
	}
	scores, err := s.cfg.Catalog.PersonMatchScores(ctx, galleryID)
	if err != nil {
		return nil, err
	}
	out := make([]Person, 0, len(ps))
	for _, p := range ps {
		if len(p.Faces) < 2 {
			continue
		}
		p = summarize(p)
		p.Faces = nil
		if q.PossibleMinor != nil && *q.PossibleMinor != p.possibleMinor() {
			continue
		}
		for _, sc := range scores[p.ID] {
			if !a.mayRead(sc.GalleryID) {
				continue // a reference gallery the reader may not see says nothing here
			}
			if p.CrossMatch == nil {
				p.CrossMatch = &PersonMatchScore{}
			}
			p.CrossMatch.Similarity = max(p.CrossMatch.Similarity, sc.Similarity)
			p.CrossMatch.Items += sc.Items
		}
		out = append(out, p)
	}
	score := func(p Person) float32 {
		if p.CrossMatch == nil {
			return -2
		}
		return p.CrossMatch.Similarity
	}
	sort.SliceStable(out, func(i, j int) bool {
		if order == PersonsByRecent && !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		if order == PersonsByScore && score(out[i]) != score(out[j]) {
			return score(out[i]) > score(out[j])
		}
		if order == PersonsMinorsFirst && out[i].possibleMinor() != out[j].possibleMinor() {
			return out[i].possibleMinor()
		}
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// readablePerson returns person id with its faces, refusing one outside a's galleries.
func (s *Service) readablePerson(ctx context.Context, a Actor, id int64) (Person, error) {
	ps, err := s.cfg.Catalog.Persons(ctx, 0, id)
	if err != nil {
		return Person{}, err
	}
	if err := checkGallery(a, ps[0].GalleryID); err != nil {
		return Person{}, err
	}
	return ps[0], nil
}

// PersonByID returns one suggested person with its faces and ad details; reading it is
// audited (it gathers a person's photos).
func (s *Service) PersonByID(ctx context.Context, a Actor, id int64) (Person, error) {
	p, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return Person{}, err
	}
	p = summarize(p)
	if p.Age != nil {
		p.AgeMeaning = AgeMeaning
	}
	if p.Links, err = s.personLinks(ctx, a, p); err != nil {
		return Person{}, err
	}
	return p, s.auditRead(ctx, entry(a, "person.read", ref("person", id), []int64{p.GalleryID}, "", fmt.Sprintf("faces=%d links=%d", p.Size, len(p.Links))))
}

// summarize fills a person's size, representative, cohesion, dates and contacts from its faces.
func summarize(p Person) Person {
	p.Size = len(p.Faces)
	var best float64 = -1
	var sum float32
	counts := map[Contact]*ContactCount{}
	for _, f := range p.Faces {
		if q := f.Quality.Sharpness * f.Quality.Frontalness; q > best {
			best, p.Representative = q, f.FaceID
		}
		sum += f.Similarity
		seen := f.StoredAt
		if f.Source.PostedAt != nil {
			seen = *f.Source.PostedAt
		}
		if p.FirstSeen.IsZero() || seen.Before(p.FirstSeen) {
			p.FirstSeen = seen
		}
		if seen.After(p.LastSeen) {
			p.LastSeen = seen
		}
		for _, c := range ContactsOf(f.Source) {
			if c.Kind == ContactSiteUsername {
				continue // the username row says it; its site is in the photos
			}
			cc := counts[c]
			if cc == nil {
				cc = &ContactCount{Contact: c, FirstSeen: seen, LastSeen: seen}
				counts[c] = cc
			}
			cc.Photos++
			if seen.Before(cc.FirstSeen) {
				cc.FirstSeen = seen
			}
			if seen.After(cc.LastSeen) {
				cc.LastSeen = seen
			}
		}
		if f.Source.Site != "" {
			c := Contact{Kind: "site", Value: f.Source.Site}
			if counts[c] == nil {
				counts[c] = &ContactCount{Contact: c, FirstSeen: seen, LastSeen: seen}
			}
			counts[c].Photos++
		}
	}
	if p.Size > 0 {
		p.Cohesion = sum / float32(p.Size)
	}
	p.Contacts = []ContactCount{}
	for _, cc := range counts {
		p.Contacts = append(p.Contacts, *cc)
	}
	slices.SortFunc(p.Contacts, func(a, b ContactCount) int {
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		if a.Photos != b.Photos {
			return b.Photos - a.Photos
		}
		if a.Value < b.Value {
			return -1
		}
		return 1
	})
	var ages []ApparentAge
	for _, f := range p.Faces {
		if f.Age != nil {
			ages = append(ages, *f.Age)
		}
	}
	p.AgedFaces = len(ages)
	if m, ok := MedianAge(ages, lineOf(ages)); ok {
		p.Age = &m
	}
	return p
}

// maxRepostProbes bounds the member photos whose reposts a person page looks up.
const maxRepostProbes = 50

// personLinks finds the persons, in a's galleries, that share a phone or a username on a site
// with p's ads, or whose photos are reposts of p's.
func (s *Service) personLinks(ctx context.Context, a Actor, p Person) ([]PersonLink, error) {
	links := map[int64]*PersonLink{}
	link := func(r PersonRef) *PersonLink {
		if r.ID == p.ID || !a.mayRead(r.GalleryID) {
			return nil
		}
		if links[r.ID] == nil {
			links[r.ID] = &PersonLink{PersonRef: r}
		}
		return links[r.ID]
	}
	for _, c := range p.Contacts {
		if c.Kind != ContactPhone && c.Kind != ContactUsername && c.Kind != ContactURL && c.Kind != ContactAdID {
			continue
		}
		refs, err := s.cfg.Catalog.PersonsWithContact(ctx, c.Contact)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if l := link(r); l != nil {
				l.Contacts = append(l.Contacts, c.Contact)
			}
		}
	}
	seen := map[int64]bool{}
	probes := 0
	for _, f := range p.Faces {
		if seen[f.ImageID] || probes == maxRepostProbes {
			continue
		}
		seen[f.ImageID] = true
		probes++
		rs, _, err := s.reposts(ctx, a, f.ImageID)
		if errors.Is(err, ErrConflict) {
			continue // stored before photos were hashed
		}
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(rs))
		for i, r := range rs {
			ids[i] = r.Image.ID
		}
		owners, err := s.cfg.Catalog.PersonsOfImages(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, other := range ids {
			for _, r := range owners[other] {
				if l := link(r); l != nil {
					l.Reposts = append(l.Reposts, [2]int64{f.ImageID, other})
				}
			}
		}
	}
	out := []PersonLink{}
	for _, l := range links {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		ei, ej := len(out[i].Contacts)+len(out[i].Reposts), len(out[j].Contacts)+len(out[j].Reposts)
		if ei != ej {
			return ei > ej
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// personAction checks a reviewer's action on person id (in a's galleries) and runs act with its
// audit entry in one unit of work; the note says why.
func (s *Service) personAction(ctx context.Context, a Actor, id int64, action, note, input string, act func(c Catalog) error) (Person, error) {
	note, err := CleanText("note", note, MaxNoteLen, true)
	if err != nil {
		return Person{}, err
	}
	p, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return Person{}, err
	}
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		if err := act(c); err != nil {
			return AuditEntry{}, err
		}
		return entry(a, action, ref("person", id), []int64{p.GalleryID}, strings.TrimSpace(input+" note="+strconv.Quote(note)), ""), nil
	})
	if err != nil {
		return Person{}, err
	}
	after, err := s.cfg.Catalog.Persons(ctx, 0, id)
	if errors.Is(err, ErrNotFound) {
		return Person{ID: id, GalleryID: p.GalleryID}, nil // its last face went
	}
	if err != nil {
		return Person{}, err
	}
	return summarize(after[0]), nil
}

// ConfirmPerson records that a reviewer checked the person: it keeps its members through
// re-clustering. Audited as person.confirm with the note.
func (s *Service) ConfirmPerson(ctx context.Context, a Actor, id int64, note string) (Person, error) {
	return s.personAction(ctx, a, id, "person.confirm", note, "", func(c Catalog) error {
		return c.ConfirmPerson(ctx, id, a.Person(), time.Now())
	})
}

// RemoveFaceFromPerson takes a face a reviewer judged another person's out of a person, for
// good; the person goes with its last face. Audited as person.remove_face.
func (s *Service) RemoveFaceFromPerson(ctx context.Context, a Actor, id, faceID int64, note string) (Person, error) {
	p, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return Person{}, err
	}
	// The face is not the same person as any face left: a cannot-link to each, which a
	// re-clustering honours whether or not the person is confirmed.
	now := time.Now()
	var judged []FaceLink
	for _, f := range p.Faces {
		if f.FaceID != faceID && len(judged) < maxLinkPairs {
			judged = append(judged, FaceLink{A: faceID, B: f.FaceID, Same: false, By: a.Person(), At: now})
		}
	}
	return s.personAction(ctx, a, id, "person.remove_face", note, fmt.Sprintf("face=%d", faceID), func(c Catalog) error {
		if err := c.RemovePersonFace(ctx, id, faceID); err != nil {
			return err
		}
		return c.AddFaceLinks(ctx, judged)
	})
}

// MergePersons puts the faces of other into id: a reviewer judged them one person, recorded as
// must-links that every later clustering honours. Persons of different galleries (and so
// possibly of different models), or a merge that would put two faces of one photo in a person,
// are refused (ErrConflict); so is one that contradicts a reviewer's earlier "not the same
// person" between them, unless supersede is set. Audited as person.merge.
func (s *Service) MergePersons(ctx context.Context, a Actor, id, other int64, note string, supersede bool) (Person, error) {
	if id == other {
		return Person{}, fmt.Errorf("a person cannot be merged with itself: %w", ErrInvalid)
	}
	into, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return Person{}, err
	}
	from, err := s.readablePerson(ctx, a, other)
	if err != nil {
		return Person{}, err
	}
	left, right := faceSet(into.Faces), faceSet(from.Faces)
	links, err := s.judgementsBetween(ctx, left, right, true, supersede)
	if err != nil {
		return Person{}, err
	}
	// One must-link from the first face of id to every face of other joins them; with
	// supersede, the cannot-links between them are replaced too.
	now := time.Now()
	anchor := into.Faces[0].FaceID
	var judged []FaceLink
	for f := range right {
		judged = append(judged, FaceLink{A: anchor, B: f, Same: true, By: a.Person(), At: now})
	}
	if supersede {
		for _, l := range links {
			if !l.Same && (left[l.A] && right[l.B] || left[l.B] && right[l.A]) {
				judged = append(judged, FaceLink{A: l.A, B: l.B, Same: true, By: a.Person(), At: now})
			}
		}
	}
	input := fmt.Sprintf("merged=%d", other)
	if supersede {
		input += " supersede=true"
	}
	return s.personAction(ctx, a, id, "person.merge", note, input, func(c Catalog) error {
		if err := c.MergePersons(ctx, id, other); err != nil {
			return err
		}
		return c.AddFaceLinks(ctx, judged)
	})
}

// personProbes is how many of a person's faces, the best first, a person search compares.
const personProbes = 5

// PersonSearchRequest is an analyst's search of a suggested person against reference galleries.
type PersonSearchRequest struct {
	Galleries []int64
	Purpose   string
	K         int // subjects per person (default 20)
}

// SearchPerson searches a suggested person as a whole: its best faces (sharpness ×
// frontalness, at most personProbes), each against the reference galleries on the person's
// model, every subject scored by its best pair; one candidate per subject, represented by the
// person's face that scored it, and one review item per (person, subject) at or above the
// gallery's threshold, not one per photo. The same person searched again links to the items
// made before. Recorded as a search whose probes are the stored faces, audited as
// person.search.
func (s *Service) SearchPerson(ctx context.Context, a Actor, personID int64, req PersonSearchRequest) (SearchResult, error) {
	var err error
	if req.Purpose, err = CleanText("purpose", req.Purpose, MaxPurposeLen, false); err != nil {
		return SearchResult{}, err
	}
	if req.Purpose == "" {
		return SearchResult{}, fmt.Errorf("purpose is required (the reason for the search or a case reference): %w", ErrInvalid)
	}
	if req.Galleries, err = DistinctIDs("galleries", req.Galleries, MaxGalleries); err != nil {
		return SearchResult{}, err
	}
	if len(req.Galleries) == 0 {
		return SearchResult{}, fmt.Errorf("galleries is required: %w", ErrInvalid)
	}
	if req.K == 0 {
		req.K = 20
	}
	if req.K < 1 || req.K > s.cfg.MaxK {
		return SearchResult{}, fmt.Errorf("k must be in [1, %d], got %d: %w", s.cfg.MaxK, req.K, ErrInvalid)
	}
	p, err := s.readablePerson(ctx, a, personID)
	if err != nil {
		return SearchResult{}, err
	}
	coll, err := s.cfg.Catalog.Gallery(ctx, p.GalleryID)
	if err != nil {
		return SearchResult{}, err
	}
	byModel, _, ops, err := s.galleriesByModel(ctx, a, req.Galleries)
	if err != nil {
		return SearchResult{}, err
	}
	refs := byModel[coll.Model]
	if len(refs) != len(req.Galleries) {
		return SearchResult{}, fmt.Errorf("the person's faces are embedded with %s; every gallery searched must use it: faces of different models are never compared: %w", coll.Model, ErrConflict)
	}
	for _, id := range refs {
		if g, err := s.cfg.Catalog.Gallery(ctx, id); err != nil {
			return SearchResult{}, err
		} else if g.Kind != Reference {
			return SearchResult{}, fmt.Errorf("gallery %d is not a reference gallery: %w", id, ErrInvalid)
		}
	}
	faces := slices.Clone(p.Faces)
	sort.SliceStable(faces, func(i, j int) bool {
		return faces[i].Quality.Sharpness*faces[i].Quality.Frontalness > faces[j].Quality.Sharpness*faces[j].Quality.Frontalness
	})
	faces = faces[:min(len(faces), personProbes)]
	ids := make([]int64, len(faces))
	for i, f := range faces {
		ids[i] = f.FaceID
	}
	vectors, err := s.cfg.Catalog.FaceVectors(ctx, ids)
	if err != nil {
		return SearchResult{}, err
	}
	stored, err := s.cfg.Catalog.FacesByID(ctx, ids)
	if err != nil {
		return SearchResult{}, err
	}
	var probes []ProbeFace
	best := map[int64]Candidate{} // per candidate subject (or face): the best pair
	for _, f := range faces {
		v, ok := vectors[f.FaceID]
		sf, ok2 := stored[f.FaceID]
		if !ok || !ok2 {
			continue // deleted since
		}
		faceID := f.FaceID
		probes = append(probes, ProbeFace{Box: sf.Box, Quality: sf.Quality, FaceID: &faceID, ThumbKey: sf.ThumbKey, Age: sf.Age, NoAge: sf.NoAge})
		hits, err := s.cfg.Indexes[coll.Model].Search(ctx, coll.Model, v, fetchK(req.K), index.Filter{Galleries: toU64(refs)})
		if err != nil {
			return SearchResult{}, fmt.Errorf("service: person search: %w", err)
		}
		scored, err := s.subjectScored(ctx, hits)
		if err != nil {
			return SearchResult{}, err
		}
		for _, h := range scored {
			key := -h.FaceID // a face without a subject stands for itself
			if h.SubjectID != nil {
				key = *h.SubjectID
			}
			if old, ok := best[key]; !ok || h.Similarity > old.Similarity {
				best[key] = Candidate{ProbeIndex: len(probes) - 1, FaceID: h.FaceID, GalleryID: h.GalleryID, Similarity: h.Similarity}
			}
		}
	}
	if len(probes) == 0 {
		return SearchResult{}, fmt.Errorf("person %d has no searchable face left: %w", personID, ErrConflict)
	}
	var cands []Candidate
	for _, c := range best {
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].Similarity != cands[j].Similarity {
			return cands[i].Similarity > cands[j].Similarity
		}
		return cands[i].FaceID < cands[j].FaceID
	})
	cands = cands[:min(len(cands), req.K)]
	if summarize(p).possibleMinor() {
		// A person whose faces look under 18 is matched under the minors' line.
		for id := range ops {
			g, err := s.cfg.Catalog.Gallery(ctx, id)
			if err != nil {
				return SearchResult{}, err
			}
			ops[id] = s.operatingPointFor(g, true)
		}
	}
	for i := range cands {
		c := &cands[i]
		c.Rank = i + 1
		c.Threshold = ops[c.GalleryID].Threshold
		c.Review = c.Threshold != nil && c.Similarity >= *c.Threshold
	}
	rec := SearchRecord{Actor: a.Person(), Purpose: fmt.Sprintf("person %d across ads: %s", personID, req.Purpose), Galleries: req.Galleries, K: req.K,
		ProbeSHA256: fmt.Sprintf("person:%d", personID), PersonID: personID, CreatedAt: time.Now()}
	var found []SearchCandidate
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		if rec, probes, found, err = c.RecordSearch(ctx, rec, probes, cands); err != nil {
			return AuditEntry{}, err
		}
		items := 0
		for _, f := range found {
			if f.MatchID != 0 {
				items++
			}
		}
		return entry(a, "person.search", ref("person", personID), rec.Galleries, fmt.Sprintf("purpose=%q k=%d faces=%d", req.Purpose, req.K, len(probes)),
			fmt.Sprintf("search=%d candidates=%d items=%d", rec.ID, len(found), items)), nil
	})
	if err != nil {
		return SearchResult{}, err
	}
	return s.searchResult(rec, probes, found, ops), nil
}

// minorEdges drops, in place, the similarity edges that touch a face that looks under 18 and
// fall below line, the children's clustering line: children's faces look alike far more often
// than adults' (14% of pairs of unrelated people under 20 cross the adults' medium line), so
// they are not grouped on what the adults' line allows. A reviewer's merge still joins them.
func minorEdges(adj [][]cluster.Edge, faces []ClusterFace, line float32) {
	for i := range adj {
		adj[i] = slices.DeleteFunc(adj[i], func(e cluster.Edge) bool {
			return (faces[i].Minor || faces[e.To].Minor) && e.Sim < line
		})
	}
}

// minorPersonLine is the clustering line for faces that look under 18: the children's line at
// the false-match rate PersonLine has on adults' pairs (the measured children's tail, continued
// past its rarest rate by the adults' plus the gap between them); above any similarity (1.01)
// when the model has no children's tail, so such faces join no one on similarity alone.
func (s *Service) minorPersonLine(model string) float32 {
	adults := s.tailFor(model)
	minors, _, ok := s.minorsTail(model)
	if len(adults) == 0 || !ok {
		return 1.01
	}
	fmr, _ := rateAt(adults, PersonLine)
	line, _ := thresholdAt(minors, fmr)
	return float32(math.Max(line, PersonLine))
}
