package catalog

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/facematch/facematch/engine"
)

// AddImage stores img and its faces in one transaction. The subject, when given, must belong to
// the image's gallery. A second copy of the same bytes in a gallery returns the stored image,
// its faces and ErrConflict.
func (d *DB) AddImage(ctx context.Context, img engine.Image, faces []engine.NewFace) (engine.Image, []engine.StoredFace, error) {
	var stored []engine.StoredFace
	dup := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var kind engine.GalleryKind
		err := tx.QueryRowContext(ctx, `SELECT kind FROM galleries WHERE id = ?`, img.GalleryID).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("gallery", img.GalleryID)
		}
		if err != nil {
			return fmt.Errorf("catalog: add image: %w", err)
		}
		if img.SubjectID != nil {
			var gid int64
			err := tx.QueryRowContext(ctx, `SELECT gallery_id FROM subjects WHERE id = ?`, *img.SubjectID).Scan(&gid)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("subject", *img.SubjectID)
			}
			if err != nil {
				return fmt.Errorf("catalog: add image: %w", err)
			}
			if gid != img.GalleryID {
				return fmt.Errorf("subject %d belongs to gallery %d, not %d: %w", *img.SubjectID, gid, img.GalleryID, engine.ErrInvalid)
			}
		}
		got, gotFaces, inserted, err := insertImageOrExisting(ctx, tx, img, faces)
		if err != nil {
			return err
		}
		if !inserted {
			got, err = imageTx(ctx, tx, got.ID) // the stored record, for the caller to show
		}
		img, stored, dup = got, gotFaces, !inserted
		return err
	})
	if err != nil {
		return img, nil, err
	}
	if dup {
		return img, stored, fmt.Errorf("image %d already holds these bytes (sha256 %s): %w", img.ID, img.SHA256, engine.ErrConflict)
	}
	return img, stored, nil
}

// insertImage inserts a new image and its faces and returns them with IDs.
func insertImage(ctx context.Context, tx *sql.Tx, img engine.Image, faces []engine.NewFace) (engine.Image, []engine.StoredFace, error) {
	var stored []engine.StoredFace
	var model string
	if err := tx.QueryRowContext(ctx, `SELECT model FROM galleries WHERE id = ?`, img.GalleryID).Scan(&model); errors.Is(err, sql.ErrNoRows) {
		return img, nil, notFound("gallery", img.GalleryID)
	} else if err != nil {
		return img, nil, fmt.Errorf("catalog: add image: %w", err)
	}
	for _, nf := range faces {
		// A reprocess job may have switched the gallery while the photo was being embedded.
		if nf.Vector != nil && nf.Face.Model != model {
			return img, nil, fmt.Errorf("gallery %d now uses model %s, the photo was embedded with %s: retry the upload: %w",
				img.GalleryID, model, nf.Face.Model, engine.ErrConflict)
		}
	}
	source, err := json.Marshal(img.Source)
	if err != nil {
		return img, nil, fmt.Errorf("catalog: add image: %w", err)
	}
	rowID, err := insertID(ctx, tx, `INSERT INTO images (gallery_id, subject_id, sha256, format, bytes, width, height,
		blob_key, source, created_at, created_by, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		img.GalleryID, nullInt(img.SubjectID), img.SHA256, img.Format, img.Bytes, img.Width, img.Height,
		img.BlobKey, string(source), fmtTime(img.CreatedAt), img.CreatedBy, nullInt(img.OriginJobID))
	if err != nil {
		return img, nil, fmt.Errorf("catalog: add image: %w", err)
	}
	img.ID = rowID
	if err := insertContacts(ctx, tx, img); err != nil {
		return img, nil, err
	}
	if err := insertHashes(ctx, tx, img); err != nil {
		return img, nil, err
	}
	for _, nf := range faces {
		f := nf.Face
		f.ImageID, f.GalleryID, f.SubjectID = img.ID, img.GalleryID, img.SubjectID
		if nf.Vector == nil {
			f.Model = ""
		} else if f.Model == "" {
			return img, nil, fmt.Errorf("catalog: add image: a face with a vector needs its model")
		}
		box, _ := json.Marshal(f.Box)
		lm, _ := json.Marshal(f.Landmarks)
		q, _ := json.Marshal(f.Quality)
		rej, _ := json.Marshal(nonNil(f.Rejections))
		age, minor := ageColumns(f.Age)
		rowID, err := insertID(ctx, tx, `INSERT INTO faces (image_id, gallery_id, subject_id, box, landmarks, quality, rejections,
		model, vector, thumb_key, age, no_age, possible_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ImageID, f.GalleryID, nullInt(f.SubjectID), string(box), string(lm), string(q), string(rej),
			f.Model, vectorBytes(nf.Vector), f.ThumbKey, age, f.NoAge, minor)
		if err != nil {
			return img, nil, fmt.Errorf("catalog: add face: %w", err)
		}
		f.ID = rowID
		stored = append(stored, f)
	}
	return img, stored, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func vectorBytes(v []float32) any {
	if v == nil {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

const imageSelect = `SELECT id, gallery_id, subject_id, sha256, format, bytes, width, height, blob_key, source,
	created_at, created_by, job_id FROM images`

func imageTx(ctx context.Context, q queryer, id int64) (engine.Image, error) {
	img, err := scanImage(q.QueryRowContext(ctx, imageSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return img, notFound("image", id)
	}
	if err != nil {
		return img, fmt.Errorf("catalog: image %d: %w", id, err)
	}
	return img, nil
}

func scanImage(row interface{ Scan(...any) error }) (engine.Image, error) {
	var img engine.Image
	var subject, job sql.NullInt64
	var source, created string
	if err := row.Scan(&img.ID, &img.GalleryID, &subject, &img.SHA256,
		&img.Format, &img.Bytes, &img.Width, &img.Height, &img.BlobKey, &source, &created, &img.CreatedBy, &job); err != nil {
		return img, err
	}
	img.SubjectID, img.OriginJobID, img.CreatedAt = intPtr(subject), intPtr(job), parseTime(created)
	if err := json.Unmarshal([]byte(source), &img.Source); err != nil {
		return img, fmt.Errorf("source of image %d: %w", img.ID, err)
	}
	return img, nil
}

// Images returns a page of a gallery's photos (of one subject when f.SubjectID is set) in ID
// order after f.Cursor.
func (d *DB) Images(ctx context.Context, f engine.ImageFilter) ([]engine.Image, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q, args := imageSelect+` WHERE gallery_id = ? AND id > ?`, []any{f.GalleryID, f.Cursor}
	if f.SubjectID != 0 {
		q, args = q+` AND subject_id = ?`, append(args, f.SubjectID)
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: images: %w", err)
	}
	defer rows.Close()
	out := []engine.Image{}
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: images: %w", err)
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

// Image returns image id.
func (d *DB) Image(ctx context.Context, id int64) (engine.Image, error) {
	return imageTx(ctx, d.db, id)
}

const (
	faceColumns = `id, image_id, gallery_id, subject_id, box, landmarks, quality, rejections, model, thumb_key, age, no_age`
	faceSelect  = `SELECT ` + faceColumns + ` FROM faces`
)

// scanFace scans a faceSelect row; extra receives columns selected after faceSelect's.
func scanFace(row interface{ Scan(...any) error }, extra ...any) (engine.StoredFace, error) {
	var f engine.StoredFace
	var subject sql.NullInt64
	var box, lm, q, rej string
	var age sql.NullString
	if err := row.Scan(append([]any{&f.ID, &f.ImageID, &f.GalleryID, &subject, &box, &lm, &q, &rej, &f.Model, &f.ThumbKey, &age, &f.NoAge}, extra...)...); err != nil {
		return f, err
	}
	f.SubjectID = intPtr(subject)
	var ageErr error
	f.Age, ageErr = scanAge(age)
	err := errors.Join(json.Unmarshal([]byte(box), &f.Box), json.Unmarshal([]byte(lm), &f.Landmarks),
		json.Unmarshal([]byte(q), &f.Quality), json.Unmarshal([]byte(rej), &f.Rejections), ageErr)
	if len(f.Rejections) == 0 {
		f.Rejections = nil
	}
	return f, err
}

func facesOf(ctx context.Context, q queryer, imageID int64) ([]engine.StoredFace, error) {
	rows, err := q.QueryContext(ctx, faceSelect+` WHERE image_id = ? ORDER BY id`, imageID)
	if err != nil {
		return nil, fmt.Errorf("catalog: faces of image %d: %w", imageID, err)
	}
	defer rows.Close()
	out := []engine.StoredFace{}
	for rows.Next() {
		f, err := scanFace(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: faces of image %d: %w", imageID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Faces returns the faces of image imageID (ErrNotFound for an unknown image).
func (d *DB) Faces(ctx context.Context, imageID int64) ([]engine.StoredFace, error) {
	if _, err := d.Image(ctx, imageID); err != nil {
		return nil, err
	}
	return facesOf(ctx, d.db, imageID)
}

// Face returns face id.
func (d *DB) Face(ctx context.Context, id int64) (engine.StoredFace, error) {
	f, err := scanFace(d.db.QueryRowContext(ctx, faceSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, notFound("face", id)
	}
	if err != nil {
		return f, fmt.Errorf("catalog: face %d: %w", id, err)
	}
	return f, nil
}

// FacesByID returns the faces among ids that exist.
func (d *DB) FacesByID(ctx context.Context, ids []int64) (map[int64]engine.StoredFace, error) {
	out := make(map[int64]engine.StoredFace, len(ids))
	const chunk = 500 // SQLite's default limit on bound parameters is far above; keeps statements small
	for from := 0; from < len(ids); from += chunk {
		part := ids[from:min(from+chunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := d.db.QueryContext(ctx, faceSelect+` WHERE id IN (?`+strings.Repeat(",?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("catalog: faces: %w", err)
		}
		for rows.Next() {
			f, err := scanFace(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("catalog: faces: %w", err)
			}
			out[f.ID] = f
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("catalog: faces: %w", err)
		}
	}
	return out, nil
}

// FaceVectors returns the vectors of the faces among ids that have one.
func (d *DB) FaceVectors(ctx context.Context, ids []int64) (map[int64][]float32, error) {
	out := map[int64][]float32{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, vector FROM faces WHERE vector IS NOT NULL AND id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: face vectors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("catalog: face vectors: %w", err)
		}
		out[id] = bytesVector(b)
	}
	return out, rows.Err()
}

// Vectors calls fn with every stored vector of model in face ID order.
func (d *DB) Vectors(ctx context.Context, model string, fn func(faceID, galleryID int64, v []float32) error) error {
	// A reprocess job's staged vectors belong in their model's index too (hidden there by the
	// gallery filter until the switch).
	rows, err := d.db.QueryContext(ctx, `SELECT id, gallery_id, vector FROM faces WHERE model = ? AND vector IS NOT NULL
		UNION ALL SELECT s.face_id, f.gallery_id, s.vector FROM staged_vectors s JOIN faces f ON f.id = s.face_id WHERE s.model = ?
		ORDER BY 1`, model, model)
	if err != nil {
		return fmt.Errorf("catalog: vectors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, gid int64
		var b []byte
		if err := rows.Scan(&id, &gid, &b); err != nil {
			return fmt.Errorf("catalog: vectors: %w", err)
		}
		if err := fn(id, gid, bytesVector(b)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ageColumns is an apparent-age estimate as its JSON column (NULL without one) and its flag.
func ageColumns(a *engine.ApparentAge) (any, bool) {
	if a == nil {
		return nil, false
	}
	b, _ := json.Marshal(a)
	return string(b), a.PossibleMinor
}

func scanAge(col sql.NullString) (*engine.ApparentAge, error) {
	if !col.Valid {
		return nil, nil
	}
	var a engine.ApparentAge
	if err := json.Unmarshal([]byte(col.String), &a); err != nil {
		return nil, fmt.Errorf("catalog: apparent age: %w", err)
	}
	return &a, nil
}

// ImagesWithUnagedFaces returns up to limit photos after after with faces never aged.
func (d *DB) ImagesWithUnagedFaces(ctx context.Context, after int64, limit int) ([]engine.Image, error) {
	rows, err := d.db.QueryContext(ctx, imageSelect+` WHERE id > ? AND EXISTS (SELECT 1 FROM faces f WHERE f.image_id = images.id
		AND f.age IS NULL AND f.no_age IN ('', ?)) ORDER BY id LIMIT ?`, after, engine.NoAgeModel, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: photos with faces never aged: %w", err)
	}
	defer rows.Close()
	var out []engine.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: photos with faces never aged: %w", err)
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

// SetFaceAges records faces' apparent ages (or the reasons for none) and flags.
func (d *DB) SetFaceAges(ctx context.Context, faces []engine.StoredFace) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		for _, f := range faces {
			age, minor := ageColumns(f.Age)
			if _, err := tx.ExecContext(ctx, `UPDATE faces SET age = ?, no_age = ?, possible_minor = ? WHERE id = ?`, age, f.NoAge, minor, f.ID); err != nil {
				return fmt.Errorf("catalog: face %d age: %w", f.ID, err)
			}
		}
		return nil
	})
}
