-- facematch metadata, schema version 3: what the review queue filters and sorts on.

-- A search's probe photo may come from an ad: its metadata is kept like a stored photo's.
ALTER TABLE searches ADD COLUMN source TEXT NOT NULL DEFAULT '{}';

-- The case a match belongs to: the case reference of its probe (the search's, or the
-- cross-matched collection photo's), copied at insert so the queue filters without joins.
ALTER TABLE matches ADD COLUMN case_ref TEXT NOT NULL DEFAULT '';
UPDATE matches SET case_ref = COALESCE((
    SELECT json_extract(i.source, '$.case_ref') FROM probe_faces p
    JOIN faces f ON f.id = p.face_id JOIN images i ON i.id = f.image_id
    WHERE p.id = matches.probe_face_id), '');

-- Most similar first walks this index backwards and stops at the page's end.
CREATE INDEX matches_similarity ON matches (similarity, id);
-- The queue's count reads only this index (and decisions' primary key) for each pending match.
CREATE INDEX matches_status_requester ON matches (status, requested_by);
CREATE INDEX matches_probe ON matches (probe_face_id, rank);
CREATE INDEX matches_job ON matches (job_id, id);
CREATE INDEX matches_case ON matches (case_ref, id);
