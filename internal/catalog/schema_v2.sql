-- facematch metadata, schema version 2: batch jobs (ingest and reprocess), and stored faces as
-- probes of a job's cross-match.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('ingest', 'reprocess')),
    gallery_id      INTEGER NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    spec            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'cancelled', 'done', 'failed')),
    total           INTEGER NOT NULL DEFAULT -1,
    processed       INTEGER NOT NULL DEFAULT 0,
    stored          INTEGER NOT NULL DEFAULT 0,
    duplicates      INTEGER NOT NULL DEFAULT 0,
    no_face         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    faces           INTEGER NOT NULL DEFAULT 0,
    matches         INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    search_id       INTEGER REFERENCES searches (id),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    run_started_at  TEXT,
    run_start_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs (state, id);

-- One row per source file a job has finished with: the key a job resumes by.
CREATE TABLE job_items (
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('stored', 'duplicate', 'no_face', 'failed')),
    image_id INTEGER,
    faces    INTEGER NOT NULL DEFAULT 0,
    reason   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
CREATE INDEX job_items_failed ON job_items (job_id, state);

-- A reprocess job's new vectors, kept here until the gallery switches models in one
-- transaction; they are in the new model's index already (filtered out by gallery until then).
CREATE TABLE staged_vectors (
    job_id  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    model   TEXT NOT NULL,
    vector  BLOB NOT NULL,
    PRIMARY KEY (job_id, face_id)
);
CREATE INDEX staged_vectors_face ON staged_vectors (face_id);
CREATE INDEX staged_vectors_model ON staged_vectors (model, face_id);

-- A job's cross-match probes are stored faces: deleting the collection photo deletes the probe
-- and its matches.
ALTER TABLE probe_faces ADD COLUMN face_id INTEGER REFERENCES faces (id) ON DELETE CASCADE;
CREATE INDEX probe_faces_face ON probe_faces (face_id);
