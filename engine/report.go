package engine

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"slices"
	"time"

	"github.com/disintegration/imaging"
)

// Case reports (issue 15): what an investigator files or hands over about a suggested person or
// a match, in one bundle: the records, their photos' ad metadata, the evidence of links, the
// reviewers' decisions with their notes, the audit trail of the records, the models and the
// thresholds in force, and the statement that the engine proposes and people decide. The API
// renders it as JSON and as one self-contained HTML file. Creating one is audited
// (report.create); the entry's ID is the report's number.

// ReportStatement is the statement every case report carries.
const ReportStatement = "facematch proposes candidates; people decide. Nothing in this report declares who anyone is: " +
	"a suggested person is a proposal that several photos show one person, made because the faces look alike; " +
	"a match is a candidate face that reviewers judged, and only their decisions, with their notes, say what they concluded. " +
	"Similarity scores and thresholds say how often faces of different people score as high, not whether two faces are the same person."

// Bounds of one report: the photos and face thumbnails embedded, the side of an embedded photo
// (a reduced copy; the original stays in the store under its ID and SHA-256) and the audit
// entries listed.
const (
	maxReportPhotos = 12
	maxReportFaces  = 60
	reportPhotoSide = 1024
	maxReportAudit  = 500
)

// AuditTrail reads the audit entries about given records (internal/catalog implements it).
type AuditTrail interface {
	// EntriesAbout returns the newest entries, at most limit, whose target is one of targets
	// ("person:3", "image:12"), oldest first.
	EntriesAbout(ctx context.Context, targets []string, limit int) ([]AuditEntry, error)
}

// CaseReport is a case report on a suggested person (Person) or a match (Match).
type CaseReport struct {
	// ID is the number of the report.create audit entry that recorded its making; AuditHash
	// that entry's hash, which chains it into the log.
	ID          int64     `json:"id"`
	AuditHash   string    `json:"audit_hash"`
	Kind        string    `json:"kind"` // person or match
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generated_at"`
	// GeneratedBy is the person who made it, with the credential and its role.
	GeneratedBy string `json:"generated_by"`
	Credential  string `json:"credential"`
	Role        Role   `json:"role"`
	Statement   string `json:"statement"`

	Person *PersonRecord `json:"person,omitempty"`
	Match  *MatchRecord  `json:"match,omitempty"`

	// Galleries are the galleries of the records, each with its operating threshold at its size
	// now; Models the embedding models that measured the similarities; Thresholds every line
	// the records were judged by, with what it means.
	Galleries  []Gallery         `json:"galleries"`
	Models     []ReportModel     `json:"models"`
	Thresholds []ReportThreshold `json:"thresholds"`

	// Audit is the audit trail of the records (the newest maxReportAudit entries, oldest
	// first, in the galleries the maker may read).
	Audit []AuditEntry `json:"audit"`
	// Images are the face thumbnails and photos embedded (JPEG, base64 in JSON).
	Images []ReportImage `json:"images"`
	// Omitted says what the report leaves out and where to find it (photos past the cap, the
	// older audit entries).
	Omitted []string `json:"omitted,omitempty"`
}

// PersonRecord is a suggested person in a report: the person with its faces, contacts and
// links (with their evidence), and its photos' records with their ad metadata.
type PersonRecord struct {
	Person
	Photos []Image `json:"photos"`
	// Clustering names the method and setting that proposed the person.
	Clustering string `json:"clustering"`
	// FaceBoxes are the member faces' boxes in their photos' pixels, by face ID.
	FaceBoxes map[int64]Box `json:"face_boxes"`
}

// MatchRecord is a match in a report: the match with its decisions (reviewers, notes, times),
// the search or job behind it, both faces with their photos' ad metadata, and the probe face's
// other candidates.
type MatchRecord struct {
	Match     Match         `json:"match"`
	Band      Band          `json:"band"`
	Meaning   string        `json:"meaning,omitempty"`
	Search    *SearchRecord `json:"search,omitempty"`
	Probe     ProbeView     `json:"probe"`
	Candidate CandidateFace `json:"candidate"`
	Others    []Match       `json:"other_candidates"`
	Reviewers int           `json:"reviewers_required"`
}

// ReportModel is an embedding model the report's similarities were measured with.
type ReportModel struct {
	Identity string `json:"identity"` // name@sha256 prefix of the exact model bytes
	Dim      int    `json:"dim,omitempty"`
}

// ReportThreshold is a line a record was judged by and what it means.
type ReportThreshold struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Meaning string  `json:"meaning"`
}

// Kinds of embedded images.
const (
	ImageFace       = "face"        // a stored face's thumbnail (ID: the face)
	ImageProbeFace  = "probe_face"  // a search probe face's thumbnail (ID: the probe face)
	ImagePhoto      = "photo"       // a stored photo, reduced (ID: the photo)
	ImageProbePhoto = "probe_photo" // a search's probe photo, reduced (ID: the search)
)

// ReportImage is an image embedded in a report.
type ReportImage struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
	MIME string `json:"mime"`
	Data []byte `json:"data"`
	// Reduced says the photo is a copy at most reportPhotoSide pixels on its longer side;
	// Width and Height are then the original's, which face boxes are measured in.
	Reduced bool `json:"reduced,omitempty"`
	Width   int  `json:"width,omitempty"`
	Height  int  `json:"height,omitempty"`
}

// Image returns the embedded image of kind and id, or nil.
func (r *CaseReport) Image(kind string, id int64) *ReportImage {
	for i := range r.Images {
		if r.Images[i].Kind == kind && r.Images[i].ID == id {
			return &r.Images[i]
		}
	}
	return nil
}

// PersonReport makes the case report on suggested person id, audited as report.create. A
// person outside a's galleries is refused (ErrForbidden), an unknown one ErrNotFound; neither
// is audited.
func (s *Service) PersonReport(ctx context.Context, a Actor, id int64) (CaseReport, error) {
	p, err := s.readablePerson(ctx, a, id)
	if err != nil {
		return CaseReport{}, err
	}
	p = summarize(p)
	if p.Links, err = s.personLinks(ctx, a, p); err != nil {
		return CaseReport{}, err
	}
	g, err := s.cfg.Catalog.Gallery(ctx, p.GalleryID)
	if err != nil {
		return CaseReport{}, err
	}
	r := s.newReport(a, "person", fmt.Sprintf("Suggested person %d", id))
	rec := &PersonRecord{Person: p, Photos: []Image{},
		Clustering: fmt.Sprintf("Infomap (the map equation) on the %d-nearest-neighbour graph of the collection's faces, above similarity %.2f; two faces of one photo are never one person, and reviewers' merges and splits always hold", PersonK, PersonLine)}
	r.Person = rec
	targets := []string{ref("person", id)}
	faceIDs := make([]int64, len(p.Faces))
	seen := map[int64]bool{}
	for i, f := range p.Faces {
		faceIDs[i] = f.FaceID
		targets = append(targets, ref("face", f.FaceID))
		if seen[f.ImageID] {
			continue
		}
		seen[f.ImageID] = true
		img, err := s.cfg.Catalog.Image(ctx, f.ImageID)
		if err != nil {
			return CaseReport{}, err
		}
		rec.Photos = append(rec.Photos, img)
		targets = append(targets, ref("image", f.ImageID))
	}
	stored, err := s.cfg.Catalog.FacesByID(ctx, faceIDs)
	if err != nil {
		return CaseReport{}, err
	}
	var thumbs []string
	rec.FaceBoxes = map[int64]Box{}
	for _, f := range faceIDs {
		thumbs = append(thumbs, stored[f].ThumbKey)
		rec.FaceBoxes[f] = stored[f].Box
	}
	if err := s.embedThumbs(ctx, &r, ImageFace, faceIDs, thumbs); err != nil {
		return CaseReport{}, err
	}
	if err := s.embedPhotos(ctx, &r, g.Model, rec.Photos); err != nil {
		return CaseReport{}, err
	}
	s.addGallery(&r, g)
	r.Thresholds = append(r.Thresholds,
		ReportThreshold{"clustering line", PersonLine, fmt.Sprintf("Faces are grouped into one suggested person through pairs at or above this similarity among each face's %d nearest neighbours (pairwise precision 0.996 on LFW, 0.982 on CFP, bench/RESULTS.md); the grouping is a proposal for reviewers to confirm.", PersonK)},
		ReportThreshold{"repost radius", RepostRadius, fmt.Sprintf("Two photos are the same photo reposted (re-compressed, resized, cropped, mirrored or captioned) when their 64-bit perceptual hashes differ in at most %d bits; a link by reposts rests on such pairs.", RepostRadius)},
		ReportThreshold{"repost radius, face regions", FaceRepostRadius, fmt.Sprintf("A photo cut to another frame is the same photo reposted when the perceptual hashes of the regions around a face in each differ in at most %d bits.", FaceRepostRadius)})
	if p.Age != nil {
		r.Thresholds = append(r.Thresholds, minorLineThreshold(p.Age.MinorLine))
	}
	if err := s.addAudit(ctx, a, &r, targets); err != nil {
		return CaseReport{}, err
	}
	return s.recordReport(ctx, a, r, ref("person", id), []int64{p.GalleryID},
		fmt.Sprintf("faces=%d photos=%d links=%d audit=%d", p.Size, len(rec.Photos), len(p.Links), len(r.Audit)))
}

// MatchReport makes the case report on match id, audited as report.create. A match outside
// a's galleries is refused (ErrForbidden), an unknown one ErrNotFound; neither is audited.
func (s *Service) MatchReport(ctx context.Context, a Actor, id int64) (CaseReport, error) {
	v, err := s.matchView(ctx, a, id)
	if err != nil {
		return CaseReport{}, err
	}
	m := v.Match
	r := s.newReport(a, "match", fmt.Sprintf("Match %d", id))
	rec := &MatchRecord{Match: m, Band: v.Band, Meaning: v.Meaning, Probe: v.Probe, Candidate: v.Candidate, Others: v.Others, Reviewers: v.ReviewersRequired}
	r.Match = rec
	targets := []string{ref("match", id), ref("probe_face", m.ProbeFaceID), ref("face", m.FaceID), ref("image", m.ImageID)}
	if m.SearchID != nil {
		rec.Search = &v.Search
		targets = append(targets, ref("search", *m.SearchID))
	}
	if m.JobID != nil {
		targets = append(targets, ref("job", *m.JobID))
	}
	if m.SubjectID != nil {
		targets = append(targets, ref("subject", *m.SubjectID))
	}
	if v.Probe.Face.FaceID != nil {
		targets = append(targets, ref("face", *v.Probe.Face.FaceID))
	}
	if v.Probe.Image != nil {
		targets = append(targets, ref("image", v.Probe.Image.ID))
	}
	if err := s.embedThumbs(ctx, &r, ImageProbeFace, []int64{m.ProbeFaceID}, []string{v.Probe.Face.ThumbKey}); err != nil {
		return CaseReport{}, err
	}
	faceIDs := []int64{m.FaceID}
	for _, o := range v.Others {
		faceIDs = append(faceIDs, o.FaceID)
	}
	stored, err := s.cfg.Catalog.FacesByID(ctx, faceIDs)
	if err != nil {
		return CaseReport{}, err
	}
	stored[m.FaceID] = v.Candidate.Face
	thumbs := make([]string, len(faceIDs))
	for i, f := range faceIDs {
		thumbs[i] = stored[f].ThumbKey
	}
	if err := s.embedThumbs(ctx, &r, ImageFace, faceIDs, thumbs); err != nil {
		return CaseReport{}, err
	}
	photos := []Image{v.Candidate.Image}
	if v.Probe.Image != nil {
		photos = append(photos, *v.Probe.Image)
	}
	if err := s.embedPhotos(ctx, &r, m.Model, photos); err != nil {
		return CaseReport{}, err
	}
	if m.SearchID != nil && v.Search.ProbeKey != "" {
		im, err := s.reducedPhoto(ctx, m.Model, v.Search.ProbeKey)
		if err != nil {
			return CaseReport{}, err
		}
		im.Kind, im.ID = ImageProbePhoto, *m.SearchID
		r.Images = append(r.Images, im)
	}
	s.addGallery(&r, v.Candidate.Gallery)
	if v.Probe.Image != nil && v.Probe.Image.GalleryID != v.Candidate.Gallery.ID {
		g, err := s.cfg.Catalog.Gallery(ctx, v.Probe.Image.GalleryID)
		if err != nil {
			return CaseReport{}, err
		}
		s.addGallery(&r, g)
	}
	r.Thresholds = append(r.Thresholds, ReportThreshold{"reviewers required", float64(v.ReviewersRequired),
		fmt.Sprintf("A match is final when %d distinct reviewers agree; when two disagree it is disputed until the next reviewer settles it, with a note. Whoever ran the search or job behind a match never decides it.", v.ReviewersRequired)})
	if ages := ageList(v.Probe.Face.Age, v.Candidate.Face.Age); len(ages) > 0 {
		r.Thresholds = append(r.Thresholds, minorLineThreshold(lineOf(ages)))
	}
	if err := s.addAudit(ctx, a, &r, targets); err != nil {
		return CaseReport{}, err
	}
	return s.recordReport(ctx, a, r, ref("match", id), []int64{m.GalleryID},
		fmt.Sprintf("decisions=%d status=%s audit=%d", len(m.Decisions), m.Status, len(r.Audit)))
}

func (s *Service) newReport(a Actor, kind, title string) CaseReport {
	return CaseReport{Kind: kind, Title: title, GeneratedAt: time.Now().UTC(), GeneratedBy: a.Person(), Credential: a.Name, Role: a.Role,
		Statement: ReportStatement, Galleries: []Gallery{}, Models: []ReportModel{}, Thresholds: []ReportThreshold{}, Images: []ReportImage{}}
}

// addGallery adds g with its operating threshold, its model and the lines they give.
func (s *Service) addGallery(r *CaseReport, g Gallery) {
	op := s.operatingPoint(g)
	g.Operating = &op
	r.Galleries = append(r.Galleries, g)
	if !slices.ContainsFunc(r.Models, func(m ReportModel) bool { return m.Identity == g.Model }) {
		m := ReportModel{Identity: g.Model}
		if p, ok := s.byIdentity[g.Model]; ok {
			m.Dim = p.Embedder.Dim()
		}
		r.Models = append(r.Models, m)
	}
	if op.Threshold != nil {
		r.Thresholds = append(r.Thresholds, ReportThreshold{fmt.Sprintf("operating threshold of gallery %d (%s)", g.ID, g.Name), float64(*op.Threshold), op.Meaning})
	} else {
		r.Thresholds = append(r.Thresholds, ReportThreshold{fmt.Sprintf("operating threshold of gallery %d (%s)", g.ID, g.Name), 0, op.Meaning})
	}
	r.Thresholds = append(r.Thresholds, ReportThreshold{fmt.Sprintf("target FPIR of gallery %d (%s)", g.ID, g.Name), op.TargetFPIR,
		fmt.Sprintf("The share of searches of someone who is not in the gallery that may bring a review item: about %s; the operating threshold follows from it at the gallery's size (%s).", oneIn(op.TargetFPIR), plural(g.Faces, "face"))})
	medium, high, ok := BandLines(g.Model)
	if m, measured := minorsBandLines(g.Model); g.Minors && measured {
		medium, high = m.medium, m.high
	}
	if ok {
		r.Thresholds = append(r.Thresholds,
			ReportThreshold{fmt.Sprintf("medium band of %s", g.Model), float64(medium), BandFor(g.Model, g.Minors, medium).Meaning + " (a pair rate: it guides the order of review, it decides nothing)"},
			ReportThreshold{fmt.Sprintf("high band of %s", g.Model), float64(high), BandFor(g.Model, g.Minors, high).Meaning + " (a pair rate: it guides the order of review, it decides nothing)"})
	}
}

// embedThumbs embeds the thumbnails (keys) of faces ids of kind, up to maxReportFaces in all.
func (s *Service) embedThumbs(ctx context.Context, r *CaseReport, kind string, ids []int64, keys []string) error {
	for i, id := range ids {
		if keys[i] == "" || r.Image(kind, id) != nil {
			continue
		}
		if n := countImages(r, ImageFace, ImageProbeFace); n >= maxReportFaces {
			r.Omitted = append(r.Omitted, fmt.Sprintf("Face thumbnails after the first %d are not embedded (%d more); each face's thumbnail is GET /v1/faces/{id}/thumbnail.", maxReportFaces, len(ids)-i))
			return nil
		}
		data, err := s.readBlob(ctx, keys[i])
		if err != nil {
			return err
		}
		r.Images = append(r.Images, ReportImage{Kind: kind, ID: id, MIME: "image/jpeg", Data: data})
	}
	return nil
}

// embedPhotos embeds reduced copies of photos, up to maxReportPhotos in all.
func (s *Service) embedPhotos(ctx context.Context, r *CaseReport, model string, photos []Image) error {
	for i, img := range photos {
		if countImages(r, ImagePhoto, ImageProbePhoto) >= maxReportPhotos {
			r.Omitted = append(r.Omitted, fmt.Sprintf("Photos after the first %d are not embedded (%d more): their records and ad metadata are in the report, their bytes are GET /v1/images/{id} (each view audited).", maxReportPhotos, len(photos)-i))
			return nil
		}
		im, err := s.reducedPhoto(ctx, model, img.BlobKey)
		if err != nil {
			return err
		}
		im.Kind, im.ID = ImagePhoto, img.ID
		r.Images = append(r.Images, im)
	}
	return nil
}

func countImages(r *CaseReport, kinds ...string) int {
	n := 0
	for _, im := range r.Images {
		if slices.Contains(kinds, im.Kind) {
			n++
		}
	}
	return n
}

// reducedPhoto reads the photo at key and returns a JPEG copy at most reportPhotoSide pixels on
// its longer side, with the original's size, decoded within the limits and the memory budget
// of model's pipeline (the default's when the model is not loaded).
func (s *Service) reducedPhoto(ctx context.Context, model, key string) (ReportImage, error) {
	data, err := s.readBlob(ctx, key)
	if err != nil {
		return ReportImage{}, err
	}
	p, ok := s.byIdentity[model]
	if !ok {
		p = s.cfg.Pipelines[s.cfg.DefaultModel]
	}
	d, t, err := s.decodeAdmitted(ctx, p.Limits, data, false)
	if err != nil {
		return ReportImage{}, fmt.Errorf("report: photo %s: %w", key, err)
	}
	defer t.release()
	img := d.img
	b := img.Bounds()
	if b.Dx() > reportPhotoSide || b.Dy() > reportPhotoSide {
		img = imaging.Fit(img, reportPhotoSide, reportPhotoSide, imaging.Lanczos)
	}
	var src image.Image = img
	if img.Opaque() {
		src = &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 85}); err != nil {
		return ReportImage{}, fmt.Errorf("report: photo %s: %w", key, err)
	}
	return ReportImage{MIME: "image/jpeg", Data: buf.Bytes(), Reduced: true, Width: b.Dx(), Height: b.Dy()}, nil
}

// addAudit adds the audit trail of targets, in the galleries a may read.
func (s *Service) addAudit(ctx context.Context, a Actor, r *CaseReport, targets []string) error {
	es, err := s.cfg.Catalog.EntriesAbout(ctx, targets, maxReportAudit+1)
	if err != nil {
		return err
	}
	if len(es) > maxReportAudit {
		es = es[1:]
		r.Omitted = append(r.Omitted, fmt.Sprintf("The audit trail lists the newest %d entries about these records; earlier ones are in the audit log (GET /v1/audit/export, from before entry %d).", maxReportAudit, es[0].ID))
	}
	r.Audit = []AuditEntry{}
	for _, e := range es {
		if a.Galleries != nil && !slices.ContainsFunc(e.Galleries, a.mayRead) && len(e.Galleries) > 0 {
			continue
		}
		r.Audit = append(r.Audit, e)
	}
	return nil
}

// recordReport audits the report's making (report.create on target) and numbers it with the
// entry. When the entry cannot be written, no report leaves.
func (s *Service) recordReport(ctx context.Context, a Actor, r CaseReport, target string, galleries []int64, result string) (CaseReport, error) {
	e, err := s.cfg.Catalog.Append(ctx, entry(a, "report.create", target, galleries, "", fmt.Sprintf("%s images=%d", result, len(r.Images))))
	if err != nil {
		s.log.Error("audit write failed: the report is refused", "target", target, "err", err)
		return CaseReport{}, &RetryAfter{Err: fmt.Errorf("report.create could not be audited, so the report is not made: %w", ErrUnavailable), After: 5 * time.Second}
	}
	r.ID, r.AuditHash = e.ID, e.Hash
	return r, nil
}

// minorLineThreshold is the possible-minor line as a report states it.
func minorLineThreshold(line float32) ReportThreshold {
	return ReportThreshold{"possible-minor line (apparent age, years)", float64(line), fmt.Sprintf(
		"A face is flagged a possible minor when its apparent age is under %g unless its whole measured range is %d or over; a person by the median of its faces. ", line, AdultAge) + AgeMeaning}
}

// ageList is the estimates among ages that exist.
func ageList(ages ...*ApparentAge) []ApparentAge {
	var out []ApparentAge
	for _, a := range ages {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out
}
