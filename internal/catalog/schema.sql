-- facematch metadata, schema version 1. Times are RFC 3339 UTC strings with nanoseconds;
-- lists are JSON arrays. IDs are never reused (AUTOINCREMENT), so a face ID is also the
-- face's key in the vector index.

CREATE TABLE galleries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('reference', 'collection')),
    model      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE subjects (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    gallery_id   INTEGER NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    external_ref TEXT NOT NULL DEFAULT '',
    notes        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);
CREATE INDEX subjects_gallery ON subjects (gallery_id);

CREATE TABLE images (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    gallery_id   INTEGER NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    subject_id   INTEGER REFERENCES subjects (id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    format       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    blob_key     TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    job_id       INTEGER,
    UNIQUE (gallery_id, sha256)
);
CREATE INDEX images_subject ON images (subject_id);

CREATE TABLE faces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id   INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    gallery_id INTEGER NOT NULL,
    subject_id INTEGER,
    box        TEXT NOT NULL,
    landmarks  TEXT NOT NULL,
    quality    TEXT NOT NULL,
    rejections TEXT NOT NULL DEFAULT '[]',
    model      TEXT NOT NULL DEFAULT '',
    vector     BLOB,
    thumb_key  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faces_image ON faces (image_id);
CREATE INDEX faces_model ON faces (model, id);

CREATE TABLE searches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    actor        TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    galleries    TEXT NOT NULL,
    k            INTEGER NOT NULL,
    min_sim      REAL NOT NULL,
    probe_sha256 TEXT NOT NULL,
    probe_key    TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE probe_faces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    search_id  INTEGER NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    box        TEXT NOT NULL,
    quality    TEXT NOT NULL,
    rejections TEXT NOT NULL DEFAULT '[]',
    thumb_key  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX probe_faces_search ON probe_faces (search_id);

-- A match's candidate face is deleted with its gallery, subject or image, and the match with
-- it: a review item must not outlive the photo it is about. The audit log keeps the IDs.
CREATE TABLE matches (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    search_id      INTEGER REFERENCES searches (id) ON DELETE CASCADE,
    job_id         INTEGER,
    probe_face_id  INTEGER NOT NULL REFERENCES probe_faces (id) ON DELETE CASCADE,
    face_id        INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    gallery_id     INTEGER NOT NULL,
    similarity     REAL NOT NULL,
    rank           INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    requested_by   TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX matches_status ON matches (status, id);
CREATE INDEX matches_gallery ON matches (gallery_id, id);
CREATE INDEX matches_face ON matches (face_id);

CREATE TABLE decisions (
    match_id   INTEGER NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    reviewer   TEXT NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('potential_candidate', 'no_candidate', 'inconclusive')),
    note       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (match_id, reviewer)
);

-- Deletions leave blobs and index vectors to remove; the row is written in the deleting
-- transaction and removed when they are gone, so a crash in between is finished at restart.
CREATE TABLE purges (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    blob_keys TEXT NOT NULL,
    face_ids  TEXT NOT NULL
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reviewer', 'auditor')),
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    galleries  TEXT NOT NULL DEFAULT '[]',
    input      TEXT NOT NULL DEFAULT '',
    result     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_action ON audit (action, id);

-- The audit log is append-only, in the database too: not only the API refuses to change it.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
