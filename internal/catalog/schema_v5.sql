-- facematch metadata, schema version 5 (issue 14): a search keeps every candidate it showed the
-- analyst; only those at or above their gallery's operating threshold, or sent for review by the
-- analyst, are review items (matches), and a search of a photo searched before links its
-- candidates to the items already made instead of making them again.

-- A gallery's admin sets the share of searches of a stranger that may bring a review item; the
-- threshold follows from it and the gallery's size (engine/thresholds.go).
ALTER TABLE galleries ADD COLUMN target_fpir REAL NOT NULL DEFAULT 0.01;

-- A gallery of children (a missing-children gallery): its candidates are judged under the
-- minors' line, measured on pairs of children, which score far higher than pairs of adults.
ALTER TABLE galleries ADD COLUMN minors INTEGER NOT NULL DEFAULT 0;

-- threshold: the gallery's operating threshold when the search ran (NULL: its model has no
-- measured tail). match_id: the review item the candidate is, made by this search or an earlier
-- one of the same photo. A candidate goes with its search, probe face or candidate face.
CREATE TABLE search_candidates (
    search_id     INTEGER NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    probe_face_id INTEGER NOT NULL REFERENCES probe_faces (id) ON DELETE CASCADE,
    face_id       INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    gallery_id    INTEGER NOT NULL,
    similarity    REAL NOT NULL,
    rank          INTEGER NOT NULL,
    threshold     REAL,
    match_id      INTEGER REFERENCES matches (id) ON DELETE SET NULL,
    PRIMARY KEY (probe_face_id, face_id)
);
CREATE INDEX search_candidates_search ON search_candidates (search_id, probe_face_id, rank);
CREATE INDEX search_candidates_match ON search_candidates (match_id);

-- Every match made so far was a candidate of its search.
INSERT INTO search_candidates (search_id, probe_face_id, face_id, gallery_id, similarity, rank, match_id)
    SELECT search_id, probe_face_id, face_id, gallery_id, similarity, rank, id FROM matches WHERE search_id IS NOT NULL;

-- A photo searched again is found by its hash.
CREATE INDEX searches_probe ON searches (probe_sha256);

-- Settings an admin changes at run time (the retention policy), one JSON value per key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The contact details of stored photos' ads, one row each, for the look-up an analyst starts
-- with (a phone, a username, a URL, an ad ID → the photos that carry it). Values are stored as
-- the engine normalised them; usernames lower-cased, alone and qualified by their site.
CREATE TABLE image_contacts (
    kind     TEXT NOT NULL CHECK (kind IN ('phone', 'username', 'site_username', 'url', 'ad_id')),
    value    TEXT NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, image_id)
);
CREATE INDEX image_contacts_image ON image_contacts (image_id);
INSERT OR IGNORE INTO image_contacts (kind, value, image_id)
    SELECT 'phone', p.value, i.id FROM images i, json_each(i.source, '$.phones') p WHERE p.value <> '';
INSERT OR IGNORE INTO image_contacts (kind, value, image_id)
    SELECT 'username', lower(u.value), i.id FROM images i, json_each(i.source, '$.usernames') u WHERE u.value <> '';
INSERT OR IGNORE INTO image_contacts (kind, value, image_id)
    SELECT 'site_username', lower(json_extract(i.source, '$.site')) || '/' || lower(u.value), i.id
    FROM images i, json_each(i.source, '$.usernames') u WHERE u.value <> '' AND coalesce(json_extract(i.source, '$.site'), '') <> '';
INSERT OR IGNORE INTO image_contacts (kind, value, image_id)
    SELECT 'url', json_extract(source, '$.source_url'), id FROM images WHERE coalesce(json_extract(source, '$.source_url'), '') <> '';
INSERT OR IGNORE INTO image_contacts (kind, value, image_id)
    SELECT 'ad_id', json_extract(source, '$.ad_id'), id FROM images WHERE coalesce(json_extract(source, '$.ad_id'), '') <> '';

-- Suggested persons of a collection (issue 15): its faces clustered; a proposal for people to
-- confirm, never an identification. A face is in one person at most; a person goes with its
-- gallery, and with its last face.
-- A person a reviewer confirmed keeps its members when the gallery is clustered again; the faces
-- a reviewer removed from it never rejoin it (person_exclusions).
CREATE TABLE persons (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    gallery_id   INTEGER NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    confirmed_by TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT
);
CREATE INDEX persons_gallery ON persons (gallery_id);
CREATE TABLE person_faces (
    face_id    INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    similarity REAL NOT NULL
);
CREATE INDEX person_faces_person ON person_faces (person_id);
CREATE TABLE person_exclusions (
    person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    face_id   INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, face_id)
);

-- Perceptual hashes of stored photos for finding reposts (engine/neardup): the whole photo
-- (variant 0), its crops (1-10) and its mirror image (11), each split into four 16-bit bands
-- indexed for multi-index hashing. Photos stored before version 5 have none.
CREATE TABLE image_hashes (
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    variant  INTEGER NOT NULL,
    hash     INTEGER NOT NULL,
    b0       INTEGER NOT NULL,
    b1       INTEGER NOT NULL,
    b2       INTEGER NOT NULL,
    b3       INTEGER NOT NULL,
    PRIMARY KEY (image_id, variant)
);
CREATE INDEX image_hashes_b0 ON image_hashes (b0);
CREATE INDEX image_hashes_b1 ON image_hashes (b1);
CREATE INDEX image_hashes_b2 ON image_hashes (b2);
CREATE INDEX image_hashes_b3 ON image_hashes (b3);
