package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
)

const jobSelect = `SELECT id, kind, gallery_id, spec, state, total, processed, stored, duplicates, no_face, failed, faces,
	matches, error, search_id, created_by, created_at, started_at, finished_at, run_started_at, run_start_count, possible_minors FROM jobs`

func scanJob(row interface{ Scan(...any) error }) (engine.Job, error) {
	var j engine.Job
	var spec, created string
	var search sql.NullInt64
	var started, finished, runStarted sql.NullString
	err := row.Scan(&j.ID, &j.Kind, &j.GalleryID, &spec, &j.State, &j.Total, &j.Processed, &j.Stored, &j.Duplicates,
		&j.NoFace, &j.Failed, &j.Faces, &j.Matches, &j.Error, &search, &j.CreatedBy, &created, &started, &finished,
		&runStarted, &j.RunStartCount, &j.PossibleMinors)
	if err != nil {
		return j, err
	}
	j.SearchID, j.CreatedAt = intPtr(search), parseTime(created)
	j.StartedAt, j.FinishedAt, j.RunStartedAt = timePtr(started), timePtr(finished), timePtr(runStarted)
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return j, fmt.Errorf("job %d spec: %w", j.ID, err)
	}
	return j, nil
}

func timePtr(s sql.NullString) *time.Time {
	if !s.Valid {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

// CreateJob records a new job in state queued.
func (d *DB) CreateJob(ctx context.Context, j engine.Job) (engine.Job, error) {
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return j, fmt.Errorf("catalog: create job: %w", err)
	}
	j.State, j.Total = engine.JobQueued, -1
	err = d.tx(ctx, func(tx *sql.Tx) error {
		var x int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM galleries WHERE id = ?`, j.GalleryID).Scan(&x); errors.Is(err, sql.ErrNoRows) {
			return notFound("gallery", j.GalleryID)
		} else if err != nil {
			return fmt.Errorf("catalog: create job: %w", err)
		}
		rowID, err := insertID(ctx, tx, `INSERT INTO jobs (kind, gallery_id, spec, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			j.Kind, j.GalleryID, string(spec), j.State, j.CreatedBy, fmtTime(j.CreatedAt))
		if err != nil {
			if isConstraint(err) {
				return fmt.Errorf("job kind %q: %w", j.Kind, engine.ErrInvalid)
			}
			return fmt.Errorf("catalog: create job: %w", err)
		}
		j.ID = rowID
		return nil
	})
	return j, err
}

// Job returns job id.
func (d *DB) Job(ctx context.Context, id int64) (engine.Job, error) {
	j, err := scanJob(d.db.QueryRowContext(ctx, jobSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, notFound("job", id)
	}
	if err != nil {
		return j, fmt.Errorf("catalog: job %d: %w", id, err)
	}
	return j, nil
}

// Jobs pages through jobs, newest first.
func (d *DB) Jobs(ctx context.Context, f engine.JobFilter) ([]engine.Job, error) {
	var where []string
	var args []any
	if len(f.State) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.State)-1)+")")
		for _, s := range f.State {
			args = append(args, s)
		}
	}
	if f.GalleryID != 0 {
		where, args = append(where, "gallery_id = ?"), append(args, f.GalleryID)
	}
	if f.Galleries != nil {
		cond, ids := inInts("gallery_id", f.Galleries)
		where, args = append(where, cond), append(args, ids...)
	}
	order := " ORDER BY id DESC"
	if f.OldestFirst {
		order = " ORDER BY id"
	}
	switch {
	case f.Cursor != 0 && f.OldestFirst:
		where, args = append(where, "id > ?"), append(args, f.Cursor)
	case f.Cursor != 0:
		where, args = append(where, "id < ?"), append(args, f.Cursor)
	}
	q := jobSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := d.db.QueryContext(ctx, q+order+" LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: jobs: %w", err)
	}
	defer rows.Close()
	out := []engine.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// SetJobState moves a job to state. A finished job gets its finish time; a running one starts a
// run.
func (d *DB) SetJobState(ctx context.Context, id int64, state engine.JobState, errMsg string, at time.Time) (engine.Job, error) {
	var j engine.Job
	err := d.tx(ctx, func(tx *sql.Tx) error {
		ts := fmtTime(at)
		var res sql.Result
		var err error
		switch {
		case state == engine.JobRunning:
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ?, error = '', started_at = COALESCE(started_at, ?),
				finished_at = NULL, run_started_at = ?, run_start_count = processed WHERE id = ?`, state, ts, ts, id)
		case state.Finished():
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?`, state, errMsg, ts, id)
		default:
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ?, error = '', finished_at = NULL WHERE id = ?`, state, id)
		}
		if err != nil {
			return fmt.Errorf("catalog: job %d state: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("job", id)
		}
		j, err = scanJob(tx.QueryRowContext(ctx, jobSelect+` WHERE id = ?`, id))
		return err
	})
	return j, err
}

// SetJobTotal records how many files the job's source holds.
func (d *DB) SetJobTotal(ctx context.Context, id int64, total int) error {
	if _, err := d.exec(ctx, `UPDATE jobs SET total = ? WHERE id = ?`, total, id); err != nil {
		return fmt.Errorf("catalog: job %d total: %w", id, err)
	}
	return nil
}

// SetJobSearch links a job to the search record of its cross-match.
func (d *DB) SetJobSearch(ctx context.Context, id, searchID int64) error {
	if _, err := d.exec(ctx, `UPDATE jobs SET search_id = ? WHERE id = ?`, searchID, id); err != nil {
		return fmt.Errorf("catalog: job %d search: %w", id, err)
	}
	return nil
}

// JobItemDone reports whether the job has finished with file name.
func (d *DB) JobItemDone(ctx context.Context, jobID int64, name string) (bool, error) {
	var x int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM job_items WHERE job_id = ? AND name = ?`, jobID, name).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog: job %d item: %w", jobID, err)
	}
	return true, nil
}

// JobItems pages through a job's items in name order.
func (d *DB) JobItems(ctx context.Context, jobID int64, state engine.JobItemState, after string, limit int) ([]engine.JobItem, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT name, state, image_id, faces, reason FROM job_items WHERE job_id = ? AND name > ?`
	args := []any{jobID, after}
	if state != "" {
		q, args = q+` AND state = ?`, append(args, state)
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY name LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: job %d items: %w", jobID, err)
	}
	defer rows.Close()
	out := []engine.JobItem{}
	for rows.Next() {
		var it engine.JobItem
		var img sql.NullInt64
		if err := rows.Scan(&it.Name, &it.State, &img, &it.Faces, &it.Reason); err != nil {
			return nil, fmt.Errorf("catalog: job %d items: %w", jobID, err)
		}
		it.ImageID = intPtr(img)
		out = append(out, it)
	}
	return out, rows.Err()
}

// ImageBySHA256 returns the gallery's image holding these bytes, its faces and their vectors.
func (d *DB) ImageBySHA256(ctx context.Context, galleryID int64, sha string) (engine.Image, []engine.NewFace, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, `SELECT id FROM images WHERE gallery_id = ? AND sha256 = ?`, galleryID, sha).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return engine.Image{}, nil, fmt.Errorf("image with sha256 %s in gallery %d: %w", sha, galleryID, engine.ErrNotFound)
	}
	if err != nil {
		return engine.Image{}, nil, fmt.Errorf("catalog: image by sha256: %w", err)
	}
	img, err := imageTx(ctx, d.db, id)
	if err != nil {
		return img, nil, err
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+faceColumns+`, vector FROM faces WHERE image_id = ? ORDER BY id`, id)
	if err != nil {
		return img, nil, fmt.Errorf("catalog: faces of image %d: %w", id, err)
	}
	defer rows.Close()
	var out []engine.NewFace
	for rows.Next() {
		var v []byte
		f, err := scanFace(rows, &v)
		if err != nil {
			return img, nil, fmt.Errorf("catalog: faces of image %d: %w", id, err)
		}
		out = append(out, engine.NewFace{Face: f, Vector: bytesVector(v)})
	}
	return img, out, rows.Err()
}

// CommitIngest stores a batch of an ingest job's finished files in one transaction. A new image
// whose bytes the gallery got meanwhile is not stored again: its item becomes a duplicate.
func (d *DB) CommitIngest(ctx context.Context, job engine.Job, items []engine.IngestItem) ([][]engine.StoredFace, engine.Job, error) {
	out := make([][]engine.StoredFace, len(items))
	var after engine.Job
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if d.claims != nil && job.Kind == engine.IngestJob {
			names := make([]string, len(items))
			for i, it := range items {
				names[i] = it.Item.Name
			}
			if err := d.claims.checkHeld(ctx, tx, job.ID, names); err != nil {
				return err
			}
		}
		var c struct{ processed, stored, dups, noFace, failed, faces, matches, minors int }
		for i := range items {
			it := &items[i] // a file found stored meanwhile becomes a duplicate, for the caller too
			var imageID any
			switch {
			case it.Image != nil && it.Image.ID == 0:
				img, faces, inserted, err := insertImageOrExisting(ctx, tx, *it.Image, it.Faces)
				if err != nil {
					return fmt.Errorf("%s: %w", it.Item.Name, err)
				}
				out[i], imageID = faces, img.ID
				if inserted {
					c.faces += len(faces)
					for _, f := range faces {
						if f.Age != nil && f.Age.PossibleMinor {
							c.minors++
						}
					}
				} else {
					it.Item.State = engine.ItemDuplicate
				}
			case it.Image != nil:
				for _, f := range it.Faces {
					out[i] = append(out[i], f.Face)
				}
				imageID = it.Image.ID
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_items (job_id, name, state, image_id, faces, reason)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, name) DO UPDATE SET state = excluded.state,
				image_id = excluded.image_id, faces = excluded.faces, reason = excluded.reason`, job.ID, it.Item.Name, it.Item.State, imageID, len(out[i]), it.Item.Reason); err != nil {
				return fmt.Errorf("catalog: job %d item: %w", job.ID, err)
			}
			c.processed++
			switch it.Item.State {
			case engine.ItemStored:
				c.stored++
			case engine.ItemDuplicate:
				c.dups++
			case engine.ItemNoFace:
				c.noFace++
			case engine.ItemFailed:
				c.failed++
			}
			for _, p := range it.Probes {
				if p.Face < 0 || p.Face >= len(out[i]) || len(p.Candidates) == 0 {
					continue
				}
				if p.ByPerson {
					if err := recordJobHits(ctx, tx, job, out[i][p.Face], p.Candidates); err != nil {
						return err
					}
					continue
				}
				n, err := d.recordJobProbe(ctx, tx, job, out[i][p.Face], p.Candidates)
				if err != nil {
					return err
				}
				c.matches += n
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET processed = processed + ?, stored = stored + ?, duplicates = duplicates + ?,
			no_face = no_face + ?, failed = failed + ?, faces = faces + ?, matches = matches + ?, possible_minors = possible_minors + ? WHERE id = ?`,
			c.processed, c.stored, c.dups, c.noFace, c.failed, c.faces, c.matches, c.minors, job.ID); err != nil {
			return fmt.Errorf("catalog: job %d counters: %w", job.ID, err)
		}
		var err error
		after, err = scanJob(tx.QueryRowContext(ctx, jobSelect+` WHERE id = ?`, job.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", job.ID) // its gallery was deleted under it
		}
		return err
	})
	return out, after, err
}

// insertImageOrExisting inserts a new image, unless the gallery got the same bytes since the
// job looked (another upload, a concurrent job): then it returns the stored one.
func insertImageOrExisting(ctx context.Context, tx *sql.Tx, img engine.Image, faces []engine.NewFace) (engine.Image, []engine.StoredFace, bool, error) {
	var existing int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM images WHERE gallery_id = ? AND sha256 = ?`, img.GalleryID, img.SHA256).Scan(&existing)
	if err == nil {
		stored, err := facesOf(ctx, tx, existing)
		return engine.Image{ID: existing}, stored, false, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return img, nil, false, fmt.Errorf("catalog: add image: %w", err)
	}
	img, stored, err := insertImage(ctx, tx, img, faces)
	return img, stored, err == nil, err
}

// recordJobHits keeps a face's cross-match candidates until the face has a person (the job
// then makes them person-level items: RecordPersonItems).
func recordJobHits(ctx context.Context, tx *sql.Tx, job engine.Job, face engine.StoredFace, cands []engine.Candidate) error {
	for _, c := range cands {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_face_hits (job_id, face_id, gallery_face_id, similarity)
			SELECT ?, ?, f.id, ? FROM faces f WHERE f.id = ?
			ON CONFLICT (job_id, face_id, gallery_face_id) DO NOTHING`, job.ID, face.ID, c.Similarity, c.FaceID); err != nil {
			return fmt.Errorf("catalog: record job hit: %w", err)
		}
	}
	return nil
}

// probeFaceTx returns the probe row of a stored face, made for the job's search record the
// first time (one probe row per stored face, whichever job made it).
func probeFaceTx(ctx context.Context, tx *sql.Tx, job engine.Job, face engine.StoredFace) (int64, error) {
	if job.SearchID == nil {
		return 0, fmt.Errorf("catalog: job %d cross-matches without a search record", job.ID)
	}
	var probeID int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM probe_faces WHERE face_id = ?`, face.ID).Scan(&probeID)
	if errors.Is(err, sql.ErrNoRows) {
		box, _ := json.Marshal(face.Box)
		q, _ := json.Marshal(face.Quality)
		rej, _ := json.Marshal(nonNil(face.Rejections))
		age, minor := ageColumns(face.Age)
		rowID, err := insertID(ctx, tx, `INSERT INTO probe_faces (search_id, box, quality, rejections, thumb_key, face_id, age, no_age, possible_minor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			*job.SearchID, string(box), string(q), string(rej), face.ThumbKey, face.ID, age, face.NoAge, minor)
		if err != nil {
			return 0, fmt.Errorf("catalog: record probe face: %w", err)
		}
		probeID = rowID
	} else if err != nil {
		return 0, fmt.Errorf("catalog: probe face: %w", err)
	}
	return probeID, nil
}

// recordJobProbe makes face a probe of the job's cross-match and records a pending match per
// candidate not already matched with it.
func (d *DB) recordJobProbe(ctx context.Context, tx *sql.Tx, job engine.Job, face engine.StoredFace, cands []engine.Candidate) (int, error) {
	probeID, err := probeFaceTx(ctx, tx, job, face)
	if err != nil {
		return 0, err
	}
	ref, err := caseRef(ctx, tx, face.ImageID)
	if err != nil {
		return 0, fmt.Errorf("catalog: record match: %w", err)
	}
	now := fmtTime(time.Now())
	n := 0
	for _, c := range cands {
		res, err := tx.ExecContext(ctx, `INSERT INTO matches (search_id, job_id, probe_face_id, face_id, gallery_id, similarity, rank,
			requested_by, created_at, case_ref)
			SELECT ?, ?, ?, f.id, f.gallery_id, ?, ?, ?, ?, ?
			FROM faces f WHERE f.id = ?
			AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.probe_face_id = ? AND m.face_id = f.id)`,
			*job.SearchID, job.ID, probeID, c.Similarity, c.Rank, job.CreatedBy, now, ref, c.FaceID, probeID)
		if err != nil {
			return n, fmt.Errorf("catalog: record match: %w", err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}
