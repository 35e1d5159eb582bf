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

// RecordSearch stores a search, its probe faces and every candidate, and a pending match per
// candidate marked for review that no earlier search of the same photo made.
func (d *DB) RecordSearch(ctx context.Context, s engine.SearchRecord, probes []engine.ProbeFace, cands []engine.Candidate) (engine.SearchRecord, []engine.ProbeFace, []engine.SearchCandidate, error) {
	var out []engine.SearchCandidate
	err := d.tx(ctx, func(tx *sql.Tx) error {
		gal, _ := json.Marshal(s.Galleries)
		source, _ := json.Marshal(s.Source)
		rowID, err := insertID(ctx, tx, `INSERT INTO searches (actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, source, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.Actor, s.Purpose, string(gal), s.K, s.MinSim, s.ProbeSHA256, s.ProbeKey, string(source), fmtTime(s.CreatedAt))
		if err != nil {
			return fmt.Errorf("catalog: record search: %w", err)
		}
		s.ID = rowID
		boxes := make([]string, len(probes))
		for i := range probes {
			p := &probes[i]
			p.SearchID = s.ID
			box, _ := json.Marshal(p.Box)
			boxes[i] = string(box)
			q, _ := json.Marshal(p.Quality)
			rej, _ := json.Marshal(nonNil(p.Rejections))
			age, minor := ageColumns(p.Age)
			rowID, err := insertID(ctx, tx, `INSERT INTO probe_faces (search_id, box, quality, rejections, thumb_key, face_id, age, no_age, possible_minor)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				s.ID, string(box), string(q), string(rej), p.ThumbKey, nullInt(p.FaceID), age, p.NoAge, minor)
			if err != nil {
				return fmt.Errorf("catalog: record probe face: %w", err)
			}
			p.ID = rowID
		}
		for _, c := range cands {
			if c.ProbeIndex < 0 || c.ProbeIndex >= len(probes) {
				return fmt.Errorf("catalog: candidate of probe face %d of %d", c.ProbeIndex, len(probes))
			}
			sc := engine.SearchCandidate{ProbeFaceID: probes[c.ProbeIndex].ID, FaceID: c.FaceID, Similarity: c.Similarity, Rank: c.Rank, Threshold: c.Threshold}
			var subject sql.NullInt64
			var subjectName sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT f.gallery_id, f.subject_id, f.image_id, s.name, g.model, g.minors FROM faces f
				JOIN galleries g ON g.id = f.gallery_id LEFT JOIN subjects s ON s.id = f.subject_id WHERE f.id = ?`,
				c.FaceID).Scan(&sc.GalleryID, &subject, &sc.ImageID, &subjectName, &sc.Model, &sc.Minors)
			if errors.Is(err, sql.ErrNoRows) {
				continue // deleted between the index search and now: never propose it
			}
			if err != nil {
				return fmt.Errorf("catalog: record candidate: %w", err)
			}
			sc.SubjectID, sc.SubjectName = intPtr(subject), subjectName.String
			if c.Review {
				if err := reviewItemTx(ctx, tx, s, boxes[c.ProbeIndex], &sc); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_candidates (search_id, probe_face_id, face_id, gallery_id, similarity, rank, threshold, match_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, sc.ProbeFaceID, sc.FaceID, sc.GalleryID, sc.Similarity, sc.Rank, nullFloat(sc.Threshold), nullID(sc.MatchID)); err != nil {
				return fmt.Errorf("catalog: record candidate: %w", err)
			}
			out = append(out, sc)
		}
		return nil
	})
	return s, probes, out, err
}

// reviewItemTx makes sc a review item of search s: the match an earlier search of the same
// photo made for the same probe face box and candidate face, or a new pending one.
func reviewItemTx(ctx context.Context, tx *sql.Tx, s engine.SearchRecord, box string, sc *engine.SearchCandidate) error {
	var id int64
	var st engine.MatchStatus
	err := sql.ErrNoRows
	if s.PersonID != 0 {
		// A person search: the person is proposed once per subject (or reference face without
		// one), as a job's cross-match does (earlierPersonItem: a final item is proposed again
		// only by a pair that scores higher).
		id, err = earlierPersonItem(ctx, tx, engine.PersonItem{PersonID: &s.PersonID, SubjectID: sc.SubjectID,
			Candidate: engine.Candidate{FaceID: sc.FaceID, Similarity: sc.Similarity}})
		if err == nil && id != 0 {
			err = tx.QueryRowContext(ctx, `SELECT status FROM matches WHERE id = ?`, id).Scan(&st)
		} else if err == nil {
			err = sql.ErrNoRows
		}
	} else if s.ProbeSHA256 != "" {
		// From the photo's earlier searches (by hash) to their matches: a face may have
		// thousands of matches, a photo few searches.
		err = tx.QueryRowContext(ctx, `SELECT m.id, m.status FROM searches s JOIN probe_faces p ON p.search_id = s.id
			JOIN matches m ON m.probe_face_id = p.id
			WHERE s.probe_sha256 = ? AND s.id <> ? AND p.box = ? AND m.face_id = ? ORDER BY m.id LIMIT 1`,
			s.ProbeSHA256, s.ID, box, sc.FaceID).Scan(&id, &st)
	}
	switch {
	case err == nil:
		sc.MatchID, sc.Status, sc.Reused = id, st, true
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("catalog: find earlier review item: %w", err)
	}
	var person *int64
	if s.PersonID != 0 {
		person = &s.PersonID
	}
	rowID, err := insertID(ctx, tx, `INSERT INTO matches (search_id, probe_face_id, face_id, gallery_id, similarity, rank,
		requested_by, created_at, case_ref, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, sc.ProbeFaceID, sc.FaceID, sc.GalleryID, sc.Similarity, sc.Rank, s.Actor, fmtTime(s.CreatedAt), s.Source.CaseRef, nullInt(person))
	if err != nil {
		return fmt.Errorf("catalog: record match: %w", err)
	}
	id = rowID
	sc.MatchID, sc.Status = id, engine.Pending
	return nil
}

const candidateSelect = `SELECT c.probe_face_id, c.face_id, c.gallery_id, f.image_id, f.subject_id, s.name, g.model, g.minors,
	c.similarity, c.rank, c.threshold, c.match_id, m.status, m.search_id
	FROM search_candidates c JOIN faces f ON f.id = c.face_id JOIN galleries g ON g.id = c.gallery_id
	LEFT JOIN subjects s ON s.id = f.subject_id LEFT JOIN matches m ON m.id = c.match_id`

func scanCandidate(row interface{ Scan(...any) error }, searchID int64) (engine.SearchCandidate, error) {
	var c engine.SearchCandidate
	var subject, match, matchSearch sql.NullInt64
	var subjectName, status sql.NullString
	var threshold sql.NullFloat64
	err := row.Scan(&c.ProbeFaceID, &c.FaceID, &c.GalleryID, &c.ImageID, &subject, &subjectName, &c.Model, &c.Minors,
		&c.Similarity, &c.Rank, &threshold, &match, &status, &matchSearch)
	c.SubjectID, c.SubjectName, c.MatchID = intPtr(subject), subjectName.String, match.Int64
	c.Status = engine.MatchStatus(status.String)
	c.Reused = match.Valid && matchSearch.Int64 != searchID
	if threshold.Valid {
		t := float32(threshold.Float64)
		c.Threshold = &t
	}
	return c, err
}

// SearchCandidates returns search id's candidates by probe face and rank.
func (d *DB) SearchCandidates(ctx context.Context, id int64) ([]engine.SearchCandidate, error) {
	rows, err := d.db.QueryContext(ctx, candidateSelect+` WHERE c.search_id = ? ORDER BY c.probe_face_id, c.rank`, id)
	if err != nil {
		return nil, fmt.Errorf("catalog: candidates of search %d: %w", id, err)
	}
	defer rows.Close()
	out := []engine.SearchCandidate{}
	for rows.Next() {
		c, err := scanCandidate(rows, id)
		if err != nil {
			return nil, fmt.Errorf("catalog: candidates of search %d: %w", id, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RequestReview makes a review item of a search's candidate, or returns the one it is.
func (d *DB) RequestReview(ctx context.Context, searchID, probeFaceID, faceID int64, requester string, now time.Time) (engine.SearchCandidate, bool, error) {
	var c engine.SearchCandidate
	created := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanCandidate(tx.QueryRowContext(ctx, candidateSelect+` WHERE c.search_id = ? AND c.probe_face_id = ? AND c.face_id = ?`,
			searchID, probeFaceID, faceID), searchID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("search %d has no candidate face %d for probe face %d: %w", searchID, faceID, probeFaceID, engine.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("catalog: candidate: %w", err)
		}
		if c.MatchID != 0 {
			return nil
		}
		var s engine.SearchRecord
		var box, source string
		if err := tx.QueryRowContext(ctx, `SELECT s.id, s.probe_sha256, s.source, p.box FROM searches s JOIN probe_faces p ON p.search_id = s.id
			WHERE s.id = ? AND p.id = ?`, searchID, probeFaceID).Scan(&s.ID, &s.ProbeSHA256, &source, &box); err != nil {
			return fmt.Errorf("catalog: candidate's search: %w", err)
		}
		if err := json.Unmarshal([]byte(source), &s.Source); err != nil {
			return fmt.Errorf("catalog: candidate's search: %w", err)
		}
		s.Actor, s.CreatedAt = requester, now
		if err := reviewItemTx(ctx, tx, s, box, &c); err != nil {
			return err
		}
		created = !c.Reused
		if _, err := tx.ExecContext(ctx, `UPDATE search_candidates SET match_id = ? WHERE search_id = ? AND probe_face_id = ? AND face_id = ?`,
			c.MatchID, searchID, probeFaceID, faceID); err != nil {
			return fmt.Errorf("catalog: link candidate: %w", err)
		}
		return nil
	})
	return c, created, err
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullFloat(f *float32) any {
	if f == nil {
		return nil
	}
	return float64(*f)
}

// Search returns a search and its probe faces.
func (d *DB) Search(ctx context.Context, id int64) (engine.SearchRecord, []engine.ProbeFace, error) {
	var s engine.SearchRecord
	var gal, source, created string
	err := d.db.QueryRowContext(ctx, `SELECT id, actor, purpose, galleries, k, min_sim, probe_sha256, probe_key, source, created_at
		FROM searches WHERE id = ?`, id).Scan(&s.ID, &s.Actor, &s.Purpose, &gal, &s.K, &s.MinSim, &s.ProbeSHA256, &s.ProbeKey, &source, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil, notFound("search", id)
	}
	if err != nil {
		return s, nil, fmt.Errorf("catalog: search %d: %w", id, err)
	}
	s.CreatedAt = parseTime(created)
	if err := errors.Join(json.Unmarshal([]byte(gal), &s.Galleries), json.Unmarshal([]byte(source), &s.Source)); err != nil {
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

const probeSelect = `SELECT id, search_id, box, quality, rejections, thumb_key, face_id, age, no_age FROM probe_faces`

func scanProbe(row interface{ Scan(...any) error }) (engine.ProbeFace, error) {
	var p engine.ProbeFace
	var box, q, rej string
	var face sql.NullInt64
	var age sql.NullString
	if err := row.Scan(&p.ID, &p.SearchID, &box, &q, &rej, &p.ThumbKey, &face, &age, &p.NoAge); err != nil {
		return p, err
	}
	p.FaceID = intPtr(face)
	var ageErr error
	p.Age, ageErr = scanAge(age)
	err := errors.Join(json.Unmarshal([]byte(box), &p.Box), json.Unmarshal([]byte(q), &p.Quality), json.Unmarshal([]byte(rej), &p.Rejections), ageErr)
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
	m.similarity, m.rank, m.status, m.requested_by, m.created_at, m.case_ref, s.name, g.model, g.minors, m.person_id,
	p.age, p.possible_minor
	FROM matches m JOIN faces f ON f.id = m.face_id JOIN galleries g ON g.id = m.gallery_id
	JOIN probe_faces p ON p.id = m.probe_face_id LEFT JOIN subjects s ON s.id = f.subject_id`

func scanMatch(row interface{ Scan(...any) error }) (engine.Match, error) {
	var m engine.Match
	var search, job, subject, person sql.NullInt64
	var created string
	var subjectName, age sql.NullString
	err := row.Scan(&m.ID, &search, &job, &m.ProbeFaceID, &m.FaceID, &m.GalleryID, &subject, &m.ImageID,
		&m.Similarity, &m.Rank, &m.Status, &m.RequestedBy, &created, &m.CaseRef, &subjectName, &m.Model, &m.Minors, &person,
		&age, &m.PossibleMinor)
	if err == nil {
		m.ProbeAge, err = scanAge(age)
	}
	m.SearchID, m.JobID, m.SubjectID, m.CreatedAt = intPtr(search), intPtr(job), intPtr(subject), parseTime(created)
	m.PersonID = intPtr(person)
	m.SubjectName = subjectName.String
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

// Matches returns a page of at most 500 matches (100 when f.Limit is 0) after f.Cursor, in
// f.Order.
func (d *DB) Matches(ctx context.Context, f engine.MatchFilter) ([]engine.Match, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 100
	case f.Limit > 500:
		f.Limit = 500 // a larger page is still a full page: callers page on len == 500
	}
	q, args := matchPageQuery(f, d.pg)
	rows, err := d.db.QueryContext(ctx, q, args...)
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
	if err := pageDecisions(ctx, d.db, out); err != nil {
		return nil, err
	}
	return out, nil
}

// pageDecisions fills in the decisions of a page of matches in one query, not one per match:
// on PostgreSQL each query is a round trip to the server (a 50-match page took 4 ms, not 1).
func pageDecisions(ctx context.Context, q queryer, ms []engine.Match) error {
	if len(ms) == 0 {
		return nil
	}
	at := make(map[int64]int, len(ms))
	ids := make([]int64, len(ms))
	for i, m := range ms {
		at[m.ID], ids[i] = i, m.ID
	}
	cond, args := inInts("match_id", ids)
	rows, err := q.QueryContext(ctx, `SELECT match_id, reviewer, decision, note, created_at FROM decisions WHERE `+cond+
		` ORDER BY match_id, created_at, reviewer`, args...)
	if err != nil {
		return fmt.Errorf("catalog: decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var dd engine.Decision
		var created string
		if err := rows.Scan(&id, &dd.Reviewer, &dd.Decision, &dd.Note, &created); err != nil {
			return fmt.Errorf("catalog: decisions: %w", err)
		}
		dd.CreatedAt = parseTime(created)
		i := at[id]
		ms[i].Decisions = append(ms[i].Decisions, dd)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: decisions: %w", err)
	}
	return nil
}

// matchPageQuery is the query of one page of f.
func matchPageQuery(f engine.MatchFilter, pg bool) (string, []any) {
	where, args := matchWhere(f)
	if f.Order == engine.MostSimilarFirst && len(f.Status) > 0 && !pg {
		// Unindexed status (the unary +): the queue's statuses hold most matches, and walking the
		// similarity index down to the page's end beats sorting every pending match (measured by
		// BenchmarkReviewQueue). PostgreSQL's planner chooses that walk from its statistics; an
		// expression there would hide them (it guessed 1% of the rows and sorted them all).
		where[0] = "+" + where[0]
	}
	order := " ORDER BY m.id"
	switch f.Order {
	case engine.NewestFirst:
		order = " ORDER BY m.id DESC"
		if f.Cursor > 0 {
			where, args = append(where, "m.id < ?"), append(args, f.Cursor)
		}
	case engine.MostSimilarFirst:
		// Ties on similarity go newest first, so that one row value orders the walk down the
		// (similarity, id) index; the cursor is the (similarity, id) of the last row.
		order = " ORDER BY m.similarity DESC, m.id DESC"
		if f.Cursor > 0 {
			where = append(where, "(m.similarity, m.id) < (?, ?)")
			args = append(args, f.CursorSim, f.Cursor)
		}
	case engine.MinorsFirst:
		order = " ORDER BY p.possible_minor DESC, m.similarity DESC, m.id DESC"
		if f.Cursor > 0 {
			where = append(where, "(p.possible_minor, m.similarity, m.id) < (?, ?, ?)")
			args = append(args, f.CursorMinor, f.CursorSim, f.Cursor)
		}
	default:
		where, args = append(where, "m.id > ?"), append(args, f.Cursor)
	}
	args = append(args, f.Limit)
	return matchSelect + whereClause(where) + order + ` LIMIT ?`, args
}

// ProbeGroups returns a page of probe faces with matches f selects, the probe with the most
// similar match first (ties: the newest probe first), each with those matches, most similar
// first. f.Cursor and f.CursorSim are the last group's probe face and best similarity; f.Order
// is ignored; f.Limit counts groups (default 20, at most 100).
func (d *DB) ProbeGroups(ctx context.Context, f engine.MatchFilter) ([]engine.ProbeGroup, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 20
	case f.Limit > 100:
		f.Limit = 100
	}
	where, args := matchWhere(f)
	having := ""
	if f.Cursor > 0 {
		having = " HAVING (max(m.similarity), m.probe_face_id) < (?, ?)"
		args = append(args, f.CursorSim, f.Cursor)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT m.probe_face_id, max(m.similarity) FROM matches m`+whereClause(where)+
		` GROUP BY m.probe_face_id`+having+` ORDER BY max(m.similarity) DESC, m.probe_face_id DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: probe groups: %w", err)
	}
	var groups []engine.ProbeGroup
	byProbe := map[int64]int{}
	for rows.Next() {
		var g engine.ProbeGroup
		if err := rows.Scan(&g.ProbeFaceID, &g.Best); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: probe groups: %w", err)
		}
		byProbe[g.ProbeFaceID] = len(groups)
		g.Items = []engine.Match{}
		groups = append(groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: probe groups: %w", err)
	}
	if len(groups) == 0 {
		return []engine.ProbeGroup{}, nil
	}
	where, args = matchWhere(f)
	marks := make([]string, len(groups))
	for i, g := range groups {
		marks[i] = "?"
		args = append(args, g.ProbeFaceID)
	}
	where = append(where, "m.probe_face_id IN ("+strings.Join(marks, ",")+")")
	items, err := d.db.QueryContext(ctx, matchSelect+whereClause(where)+` ORDER BY m.probe_face_id, m.similarity DESC, m.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: probe groups' matches: %w", err)
	}
	defer items.Close()
	for items.Next() {
		m, err := scanMatch(items)
		if err != nil {
			return nil, fmt.Errorf("catalog: probe groups' matches: %w", err)
		}
		g := &groups[byProbe[m.ProbeFaceID]]
		g.Items = append(g.Items, m)
	}
	return groups, items.Err()
}

// CountMatches counts the matches f selects (cursor and limit aside).
func (d *DB) CountMatches(ctx context.Context, f engine.MatchFilter) (int, error) {
	where, args := matchWhere(f)
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM matches m`+whereClause(where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("catalog: count matches: %w", err)
	}
	return n, nil
}

// QueueCounts implements engine.ReviewStore: one pass over the matches, grouped.
func (d *DB) QueueCounts(ctx context.Context) ([]engine.QueueCount, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT gallery_id, case_ref, status, count(*), min(created_at) FROM matches
		GROUP BY gallery_id, case_ref, status ORDER BY gallery_id, case_ref, status`)
	if err != nil {
		return nil, fmt.Errorf("catalog: queue counts: %w", err)
	}
	defer rows.Close()
	var out []engine.QueueCount
	for rows.Next() {
		var q engine.QueueCount
		var oldest string
		if err := rows.Scan(&q.GalleryID, &q.CaseRef, &q.Status, &q.Items, &oldest); err != nil {
			return nil, fmt.Errorf("catalog: queue counts: %w", err)
		}
		q.Oldest = parseTime(oldest)
		out = append(out, q)
	}
	return out, rows.Err()
}

// matchWhere turns a filter's selection (not its cursor) into conditions on matches m.
func matchWhere(f engine.MatchFilter) ([]string, []any) {
	var where []string
	var args []any
	if len(f.Status) > 0 {
		where = append(where, "m.status IN (?"+strings.Repeat(",?", len(f.Status)-1)+")")
		for _, s := range f.Status {
			args = append(args, string(s))
		}
	}
	if f.Galleries != nil {
		cond, ids := inInts("m.gallery_id", f.Galleries)
		where, args = append(where, cond), append(args, ids...)
	}
	for _, c := range []struct {
		cond string
		set  bool
		arg  any
	}{
		{"m.gallery_id = ?", f.GalleryID != 0, f.GalleryID},
		{"m.search_id = ?", f.SearchID != 0, f.SearchID},
		{"m.job_id = ?", f.JobID != 0, f.JobID},
		{"m.probe_face_id = ?", f.ProbeFaceID != 0, f.ProbeFaceID},
		{"m.case_ref = ?", f.CaseRef != "", f.CaseRef},
		{"m.similarity >= ?", f.MinSim != nil, deref(f.MinSim)},
		{"m.similarity <= ?", f.MaxSim != nil, deref(f.MaxSim)},
		{"m.requested_by <> ?", f.ReviewableBy != "", f.ReviewableBy},
		{"NOT EXISTS (SELECT 1 FROM decisions d WHERE d.match_id = m.id AND d.reviewer = ?)", f.ReviewableBy != "", f.ReviewableBy},
		// Through the flagged probes' partial index: possible minors are few.
		{"m.probe_face_id IN (SELECT id FROM probe_faces WHERE possible_minor = 1)", f.PossibleMinor != nil && *f.PossibleMinor, nil},
		{"m.probe_face_id NOT IN (SELECT id FROM probe_faces WHERE possible_minor = 1)", f.PossibleMinor != nil && !*f.PossibleMinor, nil},
	} {
		if c.set {
			where = append(where, c.cond)
			if c.arg != nil {
				args = append(args, c.arg)
			}
		}
	}
	return where, args
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

func deref(p *float32) float32 {
	if p == nil {
		return 0
	}
	return *p
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
		if why, kind := engine.DecisionRefusal(reviewer, m); kind != nil {
			return fmt.Errorf("match %d: %s: %w", matchID, why, kind)
		}
		if err := engine.CheckDecision(m, note); err != nil {
			return err
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
