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

// RecordSearch stores a search, its probe faces and one pending match per candidate.
func (d *DB) RecordSearch(ctx context.Context, s engine.SearchRecord, probes []engine.ProbeFace, cands []engine.Candidate) (engine.SearchRecord, []engine.ProbeFace, []engine.Match, error) {
	var matches []engine.Match
	err := d.tx(ctx, func(tx *sql.Tx) error {
		gal, _ := json.Marshal(s.Galleries)
		res, err := tx.ExecContext(ctx, `INSERT INTO searches (actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.Actor, s.Purpose, string(gal), s.K, s.MinSim, s.ProbeSHA256, s.ProbeKey, fmtTime(s.CreatedAt))
		if err != nil {
			return fmt.Errorf("catalog: record search: %w", err)
		}
		s.ID, _ = res.LastInsertId()
		for i := range probes {
			p := &probes[i]
			p.SearchID = s.ID
			box, _ := json.Marshal(p.Box)
			q, _ := json.Marshal(p.Quality)
			rej, _ := json.Marshal(nonNil(p.Rejections))
			res, err := tx.ExecContext(ctx, `INSERT INTO probe_faces (search_id, box, quality, rejections, thumb_key) VALUES (?, ?, ?, ?, ?)`,
				s.ID, string(box), string(q), string(rej), p.ThumbKey)
			if err != nil {
				return fmt.Errorf("catalog: record probe face: %w", err)
			}
			p.ID, _ = res.LastInsertId()
		}
		for _, c := range cands {
			if c.ProbeIndex < 0 || c.ProbeIndex >= len(probes) {
				return fmt.Errorf("catalog: candidate of probe face %d of %d", c.ProbeIndex, len(probes))
			}
			// A new match is fully known from the candidate and its face: no read-back.
			m := engine.Match{SearchID: &s.ID, ProbeFaceID: probes[c.ProbeIndex].ID, FaceID: c.FaceID, Similarity: c.Similarity,
				Rank: c.Rank, Status: engine.Pending, RequestedBy: s.Actor, CreatedAt: parseTime(fmtTime(s.CreatedAt)), Decisions: []engine.Decision{}}
			var subject sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT gallery_id, subject_id, image_id FROM faces WHERE id = ?`, c.FaceID).Scan(&m.GalleryID, &subject, &m.ImageID)
			if errors.Is(err, sql.ErrNoRows) {
				continue // deleted between the index search and now: never propose it
			}
			if err != nil {
				return fmt.Errorf("catalog: record match: %w", err)
			}
			m.SubjectID = intPtr(subject)
			res, err := tx.ExecContext(ctx, `INSERT INTO matches (search_id, probe_face_id, face_id, gallery_id, similarity, rank,
				requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				s.ID, m.ProbeFaceID, c.FaceID, m.GalleryID, c.Similarity, c.Rank, s.Actor, fmtTime(s.CreatedAt))
			if err != nil {
				return fmt.Errorf("catalog: record match: %w", err)
			}
			m.ID, _ = res.LastInsertId()
			matches = append(matches, m)
		}
		return nil
	})
	return s, probes, matches, err
}

// Search returns a search and its probe faces.
func (d *DB) Search(ctx context.Context, id int64) (engine.SearchRecord, []engine.ProbeFace, error) {
	var s engine.SearchRecord
	var gal, created string
	err := d.db.QueryRowContext(ctx, `SELECT id, actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, created_at
		FROM searches WHERE id = ?`, id).Scan(&s.ID, &s.Actor, &s.Purpose, &gal, &s.K, &s.MinSim, &s.ProbeSHA256, &s.ProbeKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil, notFound("search", id)
	}
	if err != nil {
		return s, nil, fmt.Errorf("catalog: search %d: %w", id, err)
	}
	s.CreatedAt = parseTime(created)
	if err := json.Unmarshal([]byte(gal), &s.Galleries); err != nil {
		return s, nil, fmt.Errorf("catalog: search %d: %w", id, err)
	}
	rows, err := d.db.QueryContext(ctx, probeSelect+` WHERE search_id = ? ORDER BY id`, id)
	if err != nil {
		return s, nil, fmt.Errorf("catalog: search %d: %w", id, err)
	}
	defer rows.Close()
	var probes []engine.ProbeFace
	for rows.Next() {
		p, err := scanProbe(rows)
		if err != nil {
			return s, nil, fmt.Errorf("catalog: search %d: %w", id, err)
		}
		probes = append(probes, p)
	}
	return s, probes, rows.Err()
}

const probeSelect = `SELECT id, search_id, box, quality, rejections, thumb_key, face_id FROM probe_faces`

func scanProbe(row interface{ Scan(...any) error }) (engine.ProbeFace, error) {
	var p engine.ProbeFace
	var box, q, rej string
	var face sql.NullInt64
	if err := row.Scan(&p.ID, &p.SearchID, &box, &q, &rej, &p.ThumbKey, &face); err != nil {
		return p, err
	}
	p.FaceID = intPtr(face)
	err := errors.Join(json.Unmarshal([]byte(box), &p.Box), json.Unmarshal([]byte(q), &p.Quality), json.Unmarshal([]byte(rej), &p.Rejections))
	if len(p.Rejections) == 0 {
		p.Rejections = nil
	}
	return p, err
}

// ProbeFace returns probe face id.
func (d *DB) ProbeFace(ctx context.Context, id int64) (engine.ProbeFace, error) {
	p, err := scanProbe(d.db.QueryRowContext(ctx, probeSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("probe face", id)
	}
	if err != nil {
		return p, fmt.Errorf("catalog: probe face %d: %w", id, err)
	}
	return p, nil
}

const matchSelect = `SELECT m.id, m.search_id, m.job_id, m.probe_face_id, m.face_id, m.gallery_id, f.subject_id, f.image_id,
	m.similarity, m.rank, m.status, m.requested_by, m.created_at FROM matches m JOIN faces f ON f.id = m.face_id`

func scanMatch(row interface{ Scan(...any) error }) (engine.Match, error) {
	var m engine.Match
	var search, job, subject sql.NullInt64
	var created string
	err := row.Scan(&m.ID, &search, &job, &m.ProbeFaceID, &m.FaceID, &m.GalleryID, &subject, &m.ImageID,
		&m.Similarity, &m.Rank, &m.Status, &m.RequestedBy, &created)
	m.SearchID, m.JobID, m.SubjectID, m.CreatedAt = intPtr(search), intPtr(job), intPtr(subject), parseTime(created)
	m.Decisions = []engine.Decision{}
	return m, err
}

func matchTx(ctx context.Context, q queryer, id int64) (engine.Match, error) {
	m, err := scanMatch(q.QueryRowContext(ctx, matchSelect+` WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("match", id)
	}
	if err != nil {
		return m, fmt.Errorf("catalog: match %d: %w", id, err)
	}
	m.Decisions, err = decisionsOf(ctx, q, id)
	return m, err
}

func decisionsOf(ctx context.Context, q queryer, matchID int64) ([]engine.Decision, error) {
	rows, err := q.QueryContext(ctx, `SELECT reviewer, decision, note, created_at FROM decisions WHERE match_id = ? ORDER BY created_at, reviewer`, matchID)
	if err != nil {
		return nil, fmt.Errorf("catalog: decisions of match %d: %w", matchID, err)
	}
	defer rows.Close()
	out := []engine.Decision{}
	for rows.Next() {
		var dd engine.Decision
		var created string
		if err := rows.Scan(&dd.Reviewer, &dd.Decision, &dd.Note, &created); err != nil {
			return nil, fmt.Errorf("catalog: decisions of match %d: %w", matchID, err)
		}
		dd.CreatedAt = parseTime(created)
		out = append(out, dd)
	}
	return out, rows.Err()
}

// Match returns match id with its decisions.
func (d *DB) Match(ctx context.Context, id int64) (engine.Match, error) {
	return matchTx(ctx, d.db, id)
}

// Matches returns a page of at most 500 matches (100 when f.Limit is 0) in ID order after
// f.Cursor.
func (d *DB) Matches(ctx context.Context, f engine.MatchFilter) ([]engine.Match, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 100
	case f.Limit > 500:
		f.Limit = 500 // a larger page is still a full page: callers page on len == 500
	}
	where := []string{"m.id > ?"}
	args := []any{f.Cursor}
	if len(f.Status) > 0 {
		where = append(where, "m.status IN (?"+strings.Repeat(",?", len(f.Status)-1)+")")
		for _, s := range f.Status {
			args = append(args, string(s))
		}
	}
	if f.GalleryID != 0 {
		where = append(where, "m.gallery_id = ?")
		args = append(args, f.GalleryID)
	}
	if f.SearchID != 0 {
		where = append(where, "m.search_id = ?")
		args = append(args, f.SearchID)
	}
	args = append(args, f.Limit)
	rows, err := d.db.QueryContext(ctx, matchSelect+` WHERE `+strings.Join(where, " AND ")+` ORDER BY m.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: matches: %w", err)
	}
	out := []engine.Match{}
	for rows.Next() {
		m, err := scanMatch(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: matches: %w", err)
		}
		out = append(out, m)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("catalog: matches: %w", err)
	}
	for i := range out {
		if out[i].Decisions, err = decisionsOf(ctx, d.db, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decide records a reviewer's decision and updates the match's status (see engine.Resolve).
func (d *DB) Decide(ctx context.Context, matchID int64, reviewer string, decision engine.MatchStatus, note string, required int) (engine.Match, error) {
	if !engine.ValidDecision(decision) {
		return engine.Match{}, fmt.Errorf("decision must be potential_candidate, no_candidate or inconclusive, got %q: %w", decision, engine.ErrInvalid)
	}
	var m engine.Match
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if m, err = matchTx(ctx, tx, matchID); err != nil {
			return err
		}
		if m.RequestedBy == reviewer {
			return fmt.Errorf("%s ran the search behind match %d and cannot review it: %w", reviewer, matchID, engine.ErrForbidden)
		}
		for _, dd := range m.Decisions {
			if dd.Reviewer == reviewer {
				return fmt.Errorf("%s already decided match %d: %w", reviewer, matchID, engine.ErrConflict)
			}
		}
		now := time.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (match_id, reviewer, decision, note, created_at) VALUES (?, ?, ?, ?, ?)`,
			matchID, reviewer, string(decision), note, fmtTime(now)); err != nil {
			if isConstraint(err) {
				return fmt.Errorf("%s already decided match %d: %w", reviewer, matchID, engine.ErrConflict)
			}
			return fmt.Errorf("catalog: decide: %w", err)
		}
		m.Decisions = append(m.Decisions, engine.Decision{Reviewer: reviewer, Decision: decision, Note: note, CreatedAt: parseTime(fmtTime(now))})
		m.Status = engine.Resolve(m.Decisions, required)
		if _, err := tx.ExecContext(ctx, `UPDATE matches SET status = ? WHERE id = ?`, string(m.Status), matchID); err != nil {
			return fmt.Errorf("catalog: decide: %w", err)
		}
		return nil
	})
	return m, err
}
