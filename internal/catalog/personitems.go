package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/facematch/facematch/engine"
)

// A job's cross-match into a collection: hits kept until their faces have persons, then one
// review item per (person, subject) (issue 15; engine/personmatch.go has the rule).

// OpenJobHits returns up to limit of the job's hits not yet in a review item.
func (d *DB) OpenJobHits(ctx context.Context, jobID int64, faceIDs []int64, limit int) ([]engine.JobFaceHit, error) {
	q := `SELECT h.face_id, h.gallery_face_id, g.gallery_id, h.similarity, pf.person_id, g.subject_id
		FROM job_face_hits h JOIN faces g ON g.id = h.gallery_face_id
		LEFT JOIN person_faces pf ON pf.face_id = h.face_id
		WHERE h.job_id = ? AND h.match_id IS NULL`
	args := []any{jobID}
	if faceIDs != nil {
		if len(faceIDs) == 0 {
			return nil, nil
		}
		in, ids := inList(faceIDs)
		q += ` AND h.face_id IN ` + in
		args = append(args, ids...)
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY h.face_id, h.gallery_face_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: job %d hits: %w", jobID, err)
	}
	defer rows.Close()
	var out []engine.JobFaceHit
	for rows.Next() {
		var h engine.JobFaceHit
		var person, subject sql.NullInt64
		if err := rows.Scan(&h.FaceID, &h.GalleryFaceID, &h.GalleryID, &h.Similarity, &person, &subject); err != nil {
			return nil, fmt.Errorf("catalog: job %d hits: %w", jobID, err)
		}
		h.PersonID, h.SubjectID = intPtr(person), intPtr(subject)
		out = append(out, h)
	}
	return out, rows.Err()
}

// RecordPersonItems records a job's person-level review items.
func (d *DB) RecordPersonItems(ctx context.Context, job engine.Job, items []engine.PersonItem) (int, error) {
	made := 0
	err := d.tx(ctx, func(tx *sql.Tx) error {
		made = 0
		now := fmtTime(time.Now())
		for _, it := range items {
			matchID, err := earlierPersonItem(ctx, tx, it)
			if err != nil {
				return err
			}
			if matchID == 0 {
				if matchID, err = newPersonItem(ctx, tx, job, it, now); err != nil {
					return err
				}
				if matchID != 0 {
					made++
				}
			} else if err := betterPair(ctx, tx, job, matchID, it); err != nil {
				return err
			}
			for _, h := range it.Hits {
				stmt := `UPDATE job_face_hits SET match_id = ? WHERE job_id = ? AND face_id = ? AND gallery_face_id = ?`
				args := []any{matchID, job.ID, h.FaceID, h.GalleryFaceID}
				if matchID == 0 { // its face or the reference face went since: nothing to propose
					stmt, args = `DELETE FROM job_face_hits WHERE job_id = ? AND face_id = ? AND gallery_face_id = ?`, args[1:]
				}
				if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
					return fmt.Errorf("catalog: job %d hit: %w", job.ID, err)
				}
			}
		}
		if made > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET matches = matches + ? WHERE id = ?`, made, job.ID); err != nil {
				return fmt.Errorf("catalog: job %d counters: %w", job.ID, err)
			}
		}
		return nil
	})
	return made, err
}

// earlierPersonItem returns the newest match made for the item's person (or, without one, its
// probe face) and subject (or reference face), unless it is final and the item scores higher
// (new evidence is proposed again); 0 when there is none.
func earlierPersonItem(ctx context.Context, tx *sql.Tx, it engine.PersonItem) (int64, error) {
	var q string
	var args []any
	switch {
	case it.PersonID != nil && it.SubjectID != nil:
		q = `SELECT m.id, m.status, m.similarity FROM matches m JOIN faces f ON f.id = m.face_id
			WHERE m.person_id = ? AND f.subject_id = ? ORDER BY m.id DESC LIMIT 1`
		args = []any{*it.PersonID, *it.SubjectID}
	case it.PersonID != nil:
		q = `SELECT m.id, m.status, m.similarity FROM matches m WHERE m.person_id = ? AND m.face_id = ? ORDER BY m.id DESC LIMIT 1`
		args = []any{*it.PersonID, it.Candidate.FaceID}
	default:
		q = `SELECT m.id, m.status, m.similarity FROM probe_faces p JOIN matches m ON m.probe_face_id = p.id
			WHERE p.face_id = ? AND m.face_id = ? ORDER BY m.id DESC LIMIT 1`
		args = []any{it.Probe, it.Candidate.FaceID}
	}
	var id int64
	var status engine.MatchStatus
	var sim float32
	err := tx.QueryRowContext(ctx, q, args...).Scan(&id, &status, &sim)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("catalog: earlier person item: %w", err)
	case status.Final() && it.Candidate.Similarity > sim:
		return 0, nil
	}
	return id, nil
}

// newPersonItem records the item's best pair as a pending match; 0 when either face is gone.
func newPersonItem(ctx context.Context, tx *sql.Tx, job engine.Job, it engine.PersonItem, now string) (int64, error) {
	probe, err := scanFace(tx.QueryRowContext(ctx, faceSelect+` WHERE id = ?`, it.Probe))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: person item probe: %w", err)
	}
	probeID, err := probeFaceTx(ctx, tx, job, probe)
	if err != nil {
		return 0, err
	}
	ref, err := caseRef(ctx, tx, probe.ImageID)
	if err != nil {
		return 0, fmt.Errorf("catalog: record person item: %w", err)
	}
	id, err := insertID(ctx, tx, `INSERT INTO matches (search_id, job_id, probe_face_id, face_id, gallery_id, similarity, rank,
		requested_by, created_at, case_ref, person_id)
		SELECT ?, ?, ?, f.id, f.gallery_id, ?, ?, ?, ?, ?, ?
		FROM faces f WHERE f.id = ?`,
		*job.SearchID, job.ID, probeID, it.Candidate.Similarity, it.Candidate.Rank, job.CreatedBy, now, ref,
		nullInt(it.PersonID), it.Candidate.FaceID)
	if errors.Is(err, sql.ErrNoRows) { // the candidate face is gone
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("catalog: record person item: %w", err)
	}
	return id, nil
}

// MatchSupport returns up to limit hits a review item stands for, the most similar first.
func (d *DB) MatchSupport(ctx context.Context, matchID int64, limit int) ([]engine.MatchSupport, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT h.face_id, f.image_id, h.gallery_face_id, h.similarity, h.job_id
		FROM job_face_hits h JOIN faces f ON f.id = h.face_id
		WHERE h.match_id = ? ORDER BY h.similarity DESC, h.face_id LIMIT ?`, matchID, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: match %d support: %w", matchID, err)
	}
	defer rows.Close()
	out := []engine.MatchSupport{}
	for rows.Next() {
		var s engine.MatchSupport
		if err := rows.Scan(&s.FaceID, &s.ImageID, &s.GalleryFaceID, &s.Similarity, &s.JobID); err != nil {
			return nil, fmt.Errorf("catalog: match %d support: %w", matchID, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// JobsWithOpenHits returns up to limit finished jobs with hits in no review item.
func (d *DB) JobsWithOpenHits(ctx context.Context, limit int) ([]int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT h.job_id FROM job_face_hits h JOIN jobs j ON j.id = h.job_id
		WHERE h.match_id IS NULL AND j.state IN (?, ?, ?) ORDER BY h.job_id LIMIT ?`, engine.JobDone, engine.JobCancelled, engine.JobFailed, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: jobs with open hits: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("catalog: jobs with open hits: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// betterPair makes a pending, undecided item show the item's pair when it scores higher than
// the one it shows (a later batch found a better photo of the person): a reviewer sees the best
// evidence. An item someone decided keeps the pair they judged.
func betterPair(ctx context.Context, tx *sql.Tx, job engine.Job, matchID int64, it engine.PersonItem) error {
	var sim float32
	var status engine.MatchStatus
	var decided int
	if err := tx.QueryRowContext(ctx, `SELECT m.similarity, m.status, (SELECT count(*) FROM decisions d WHERE d.match_id = m.id)
		FROM matches m WHERE m.id = ?`, matchID).Scan(&sim, &status, &decided); err != nil {
		return fmt.Errorf("catalog: person item %d: %w", matchID, err)
	}
	if it.Candidate.Similarity <= sim || status != engine.Pending || decided > 0 {
		return nil
	}
	probe, err := scanFace(tx.QueryRowContext(ctx, faceSelect+` WHERE id = ?`, it.Probe))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog: person item probe: %w", err)
	}
	probeID, err := probeFaceTx(ctx, tx, job, probe)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE matches SET probe_face_id = ?, face_id = f.id, gallery_id = f.gallery_id, similarity = ?
		FROM faces f WHERE f.id = ? AND matches.id = ?`, probeID, it.Candidate.Similarity, it.Candidate.FaceID, matchID); err != nil {
		return fmt.Errorf("catalog: person item %d: %w", matchID, err)
	}
	return nil
}

// caseRef is the case reference in a stored photo's metadata ("" when none, or the photo is
// gone): read here rather than by a JSON function in SQL, which the two engines spell apart.
func caseRef(ctx context.Context, tx *sql.Tx, imageID int64) (string, error) {
	var src string
	err := tx.QueryRowContext(ctx, `SELECT source FROM images WHERE id = ?`, imageID).Scan(&src)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var meta struct {
		CaseRef string `json:"case_ref"`
	}
	json.Unmarshal([]byte(src), &meta) // unreadable metadata has no case, as json_extract gave
	return meta.CaseRef, nil
}
