-- Reviewers' judgements about pairs of faces (issue 15): a merge says its persons' faces are one
-- person (same = 1, a must-link), a split or a face taken out says they are not (same = 0, a
-- cannot-link). Clustering, from scratch or as a job adds faces, always honours them.
CREATE TABLE face_links (
    face_a     INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    face_b     INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    same       INTEGER NOT NULL CHECK (same IN (0, 1)),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (face_a < face_b),
    PRIMARY KEY (face_a, face_b)
);
CREATE INDEX face_links_b ON face_links (face_b);

-- Persons that a re-clustering, a merge or a split replaced, so that a page or a decision
-- holding a stale ID is told where the faces went instead of a bare "not found".
CREATE TABLE retired_persons (
    id         INTEGER PRIMARY KEY,
    gallery_id INTEGER NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    retired_at TEXT NOT NULL,
    reason     TEXT NOT NULL,
    successor  INTEGER -- the person holding most of its faces then; NULL when none
);

-- A repost look-up reads thousands of band keys: each band's index now covers the variant, the
-- hash and the photo, so no key costs a read of the table (bench/RESULTS.md, "Near-duplicate
-- photos": look-up time at 1M hashes).
DROP INDEX image_hashes_b0;
DROP INDEX image_hashes_b1;
DROP INDEX image_hashes_b2;
DROP INDEX image_hashes_b3;
CREATE INDEX image_hashes_b0 ON image_hashes (b0, variant, hash, image_id);
CREATE INDEX image_hashes_b1 ON image_hashes (b1, variant, hash, image_id);
CREATE INDEX image_hashes_b2 ON image_hashes (b2, variant, hash, image_id);
CREATE INDEX image_hashes_b3 ON image_hashes (b3, variant, hash, image_id);
