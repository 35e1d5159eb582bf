-- facematch metadata on PostgreSQL, schema version 10: the end state of SQLite's schema.sql and
-- schema_v2.sql … schema_v10.sql in one file (PostgreSQL support starts at version 10; a later
-- version adds a migration file per engine). The same tables, columns, constraints, indexes and
-- foreign keys with their ON DELETE actions; TestPostgresSchemaMatchesSQLite keeps them equal.
-- Types: SQLite's INTEGER is BIGINT (IDs, counts, 64-bit hashes; flags stay integers), REAL is
-- DOUBLE PRECISION (SQLite's REAL is 8 bytes), BLOB is BYTEA; times stay fixed-width TEXT so
-- that they sort and parse as on SQLite. AUTOINCREMENT is BIGSERIAL: IDs are never reused.
-- It runs without parameters, so the driver leaves it as written (dialect.go).

CREATE TABLE galleries (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('reference', 'collection')),
    model      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    target_fpir DOUBLE PRECISION NOT NULL DEFAULT 0.01,
    minors BIGINT NOT NULL DEFAULT 0,
    image_count BIGINT NOT NULL DEFAULT 0,
    face_count BIGINT NOT NULL DEFAULT 0,
    subject_count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE subjects (
    id           BIGSERIAL PRIMARY KEY,
    gallery_id   BIGINT NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    external_ref TEXT NOT NULL DEFAULT '',
    notes        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);
CREATE INDEX subjects_gallery ON subjects (gallery_id);

CREATE TABLE images (
    id           BIGSERIAL PRIMARY KEY,
    gallery_id   BIGINT NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    subject_id   BIGINT REFERENCES subjects (id) ON DELETE CASCADE,
    sha256       TEXT NOT NULL,
    format       TEXT NOT NULL,
    bytes        BIGINT NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    blob_key     TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    job_id       BIGINT,
    UNIQUE (gallery_id, sha256)
);
CREATE INDEX images_subject ON images (subject_id);

CREATE TABLE faces (
    id         BIGSERIAL PRIMARY KEY,
    image_id   BIGINT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    gallery_id BIGINT NOT NULL,
    subject_id BIGINT,
    box        TEXT NOT NULL,
    landmarks  TEXT NOT NULL,
    quality    TEXT NOT NULL,
    rejections TEXT NOT NULL DEFAULT '[]',
    model      TEXT NOT NULL DEFAULT '',
    vector     BYTEA,
    thumb_key  TEXT NOT NULL DEFAULT '',
    age TEXT,
    no_age TEXT NOT NULL DEFAULT '',
    possible_minor BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX faces_gallery ON faces (gallery_id);
CREATE INDEX faces_image ON faces (image_id);
CREATE INDEX faces_model ON faces (model, id);
CREATE INDEX faces_possible_minor ON faces (gallery_id, id) WHERE possible_minor = 1;

CREATE TABLE searches (
    id           BIGSERIAL PRIMARY KEY,
    actor        TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    galleries    TEXT NOT NULL,
    k            BIGINT NOT NULL,
    min_sim      DOUBLE PRECISION NOT NULL,
    probe_sha256 TEXT NOT NULL,
    probe_key    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX searches_probe ON searches (probe_sha256);

CREATE TABLE probe_faces (
    id         BIGSERIAL PRIMARY KEY,
    search_id  BIGINT NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    box        TEXT NOT NULL,
    quality    TEXT NOT NULL,
    rejections TEXT NOT NULL DEFAULT '[]',
    thumb_key  TEXT NOT NULL DEFAULT '',
    face_id BIGINT REFERENCES faces (id) ON DELETE CASCADE,
    age TEXT,
    no_age TEXT NOT NULL DEFAULT '',
    possible_minor BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX probe_faces_face ON probe_faces (face_id);
CREATE INDEX probe_faces_possible_minor ON probe_faces (id) WHERE possible_minor = 1;
CREATE INDEX probe_faces_search ON probe_faces (search_id);

CREATE TABLE matches (
    id             BIGSERIAL PRIMARY KEY,
    search_id      BIGINT REFERENCES searches (id) ON DELETE CASCADE,
    job_id         BIGINT,
    probe_face_id  BIGINT NOT NULL REFERENCES probe_faces (id) ON DELETE CASCADE,
    face_id        BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    gallery_id     BIGINT NOT NULL,
    similarity     DOUBLE PRECISION NOT NULL,
    rank           BIGINT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    requested_by   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    case_ref TEXT NOT NULL DEFAULT '',
    person_id BIGINT
);
CREATE INDEX matches_case ON matches (case_ref, id);
CREATE INDEX matches_face ON matches (face_id);
CREATE INDEX matches_gallery ON matches (gallery_id, id);
CREATE INDEX matches_job ON matches (job_id, id);
CREATE INDEX matches_person ON matches (person_id, face_id) WHERE person_id IS NOT NULL;
CREATE INDEX matches_probe ON matches (probe_face_id, rank);
CREATE INDEX matches_similarity ON matches (similarity, id);
CREATE INDEX matches_status ON matches (status, id);
CREATE INDEX matches_status_requester ON matches (status, requested_by);

CREATE TABLE decisions (
    match_id   BIGINT NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    reviewer   TEXT NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('potential_candidate', 'no_candidate', 'inconclusive')),
    note       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (match_id, reviewer)
);

CREATE TABLE purges (
    id        BIGSERIAL PRIMARY KEY,
    blob_keys TEXT NOT NULL,
    face_ids  TEXT NOT NULL
);

CREATE TABLE tokens (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'reviewer', 'auditor')),
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT,
    user_name TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    rotated_at TEXT,
    last_used_at TEXT,
    galleries TEXT
);
CREATE UNIQUE INDEX tokens_one_reviewer_per_user ON tokens (user_name) WHERE role = 'reviewer' AND revoked_at IS NULL;

CREATE TABLE audit (
    id         BIGSERIAL PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    galleries  TEXT NOT NULL DEFAULT '[]',
    input      TEXT NOT NULL DEFAULT '',
    result     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    client_request_id TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_target ON audit (target, id);

CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('ingest', 'reprocess')),
    gallery_id      BIGINT NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    spec            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'cancelled', 'done', 'failed')),
    total           BIGINT NOT NULL DEFAULT -1,
    processed       BIGINT NOT NULL DEFAULT 0,
    stored          BIGINT NOT NULL DEFAULT 0,
    duplicates      BIGINT NOT NULL DEFAULT 0,
    no_face         BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    faces           BIGINT NOT NULL DEFAULT 0,
    matches         BIGINT NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    search_id       BIGINT REFERENCES searches (id),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    run_started_at  TEXT,
    run_start_count BIGINT NOT NULL DEFAULT 0,
    possible_minors BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs (state, id);

CREATE TABLE job_items (
    job_id   BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('stored', 'duplicate', 'no_face', 'failed')),
    image_id BIGINT,
    faces    BIGINT NOT NULL DEFAULT 0,
    reason   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, name)
);
CREATE INDEX job_items_failed ON job_items (job_id, state);

CREATE TABLE staged_vectors (
    job_id  BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    face_id BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    model   TEXT NOT NULL,
    vector  BYTEA NOT NULL,
    PRIMARY KEY (job_id, face_id)
);
CREATE INDEX staged_vectors_face ON staged_vectors (face_id);
CREATE INDEX staged_vectors_model ON staged_vectors (model, face_id);

CREATE TABLE search_candidates (
    search_id     BIGINT NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    probe_face_id BIGINT NOT NULL REFERENCES probe_faces (id) ON DELETE CASCADE,
    face_id       BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    gallery_id    BIGINT NOT NULL,
    similarity    DOUBLE PRECISION NOT NULL,
    rank          BIGINT NOT NULL,
    threshold     DOUBLE PRECISION,
    match_id      BIGINT REFERENCES matches (id) ON DELETE SET NULL,
    PRIMARY KEY (probe_face_id, face_id)
);
CREATE INDEX search_candidates_match ON search_candidates (match_id);
CREATE INDEX search_candidates_search ON search_candidates (search_id, probe_face_id, rank);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE image_contacts (
    kind     TEXT NOT NULL CHECK (kind IN ('phone', 'username', 'site_username', 'url', 'ad_id')),
    value    TEXT NOT NULL,
    image_id BIGINT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, image_id)
);
CREATE INDEX image_contacts_image ON image_contacts (image_id);

CREATE TABLE persons (
    id           BIGSERIAL PRIMARY KEY,
    gallery_id   BIGINT NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    confirmed_by TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT
);
CREATE INDEX persons_gallery ON persons (gallery_id);

CREATE TABLE person_faces (
    face_id    BIGINT PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
    person_id  BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    similarity DOUBLE PRECISION NOT NULL
);
CREATE INDEX person_faces_person ON person_faces (person_id);

CREATE TABLE person_exclusions (
    person_id BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    face_id   BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, face_id)
);

CREATE TABLE image_hashes (
    image_id BIGINT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    variant  BIGINT NOT NULL,
    hash     BIGINT NOT NULL,
    b0       BIGINT NOT NULL,
    b1       BIGINT NOT NULL,
    b2       BIGINT NOT NULL,
    b3       BIGINT NOT NULL,
    PRIMARY KEY (image_id, variant)
);
CREATE INDEX image_hashes_b0 ON image_hashes (b0, variant, hash, image_id);
CREATE INDEX image_hashes_b1 ON image_hashes (b1, variant, hash, image_id);
CREATE INDEX image_hashes_b2 ON image_hashes (b2, variant, hash, image_id);
CREATE INDEX image_hashes_b3 ON image_hashes (b3, variant, hash, image_id);

CREATE TABLE face_links (
    face_a     BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    face_b     BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    same       BIGINT NOT NULL CHECK (same IN (0, 1)),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (face_a < face_b),
    PRIMARY KEY (face_a, face_b)
);
CREATE INDEX face_links_b ON face_links (face_b);

CREATE TABLE retired_persons (
    id         BIGINT PRIMARY KEY,
    gallery_id BIGINT NOT NULL REFERENCES galleries (id) ON DELETE CASCADE,
    retired_at TEXT NOT NULL,
    reason     TEXT NOT NULL,
    successor  BIGINT -- the person holding most of its faces then; NULL when none
);

CREATE TABLE job_face_hits (
    job_id          BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    face_id         BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE, -- the job's face
    gallery_face_id BIGINT NOT NULL REFERENCES faces (id) ON DELETE CASCADE, -- the reference face
    similarity      DOUBLE PRECISION NOT NULL,
    match_id        BIGINT REFERENCES matches (id) ON DELETE SET NULL, -- NULL until grouped
    PRIMARY KEY (job_id, face_id, gallery_face_id)
);
CREATE INDEX job_face_hits_face ON job_face_hits (face_id);
CREATE INDEX job_face_hits_gallery_face ON job_face_hits (gallery_face_id);
CREATE INDEX job_face_hits_match ON job_face_hits (match_id, similarity);
CREATE INDEX job_face_hits_open ON job_face_hits (job_id, face_id) WHERE match_id IS NULL;

-- Gallery counts kept by triggers in the rows' transaction (schema_v10.sql). PostgreSQL fires
-- them for rows removed by ON DELETE CASCADE too.
CREATE FUNCTION gallery_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE format('UPDATE galleries SET %I = %I - 1 WHERE id = $1', TG_ARGV[0], TG_ARGV[0]) USING OLD.gallery_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('UPDATE galleries SET %I = %I + 1 WHERE id = $1', TG_ARGV[0], TG_ARGV[0]) USING NEW.gallery_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER images_count_insert AFTER INSERT ON images FOR EACH ROW EXECUTE FUNCTION gallery_count('image_count');
CREATE TRIGGER images_count_delete AFTER DELETE ON images FOR EACH ROW EXECUTE FUNCTION gallery_count('image_count');
CREATE TRIGGER images_count_move AFTER UPDATE OF gallery_id ON images FOR EACH ROW
    WHEN (OLD.gallery_id <> NEW.gallery_id) EXECUTE FUNCTION gallery_count('image_count');
CREATE TRIGGER faces_count_insert AFTER INSERT ON faces FOR EACH ROW EXECUTE FUNCTION gallery_count('face_count');
CREATE TRIGGER faces_count_delete AFTER DELETE ON faces FOR EACH ROW EXECUTE FUNCTION gallery_count('face_count');
CREATE TRIGGER faces_count_move AFTER UPDATE OF gallery_id ON faces FOR EACH ROW
    WHEN (OLD.gallery_id <> NEW.gallery_id) EXECUTE FUNCTION gallery_count('face_count');
CREATE TRIGGER subjects_count_insert AFTER INSERT ON subjects FOR EACH ROW EXECUTE FUNCTION gallery_count('subject_count');
CREATE TRIGGER subjects_count_delete AFTER DELETE ON subjects FOR EACH ROW EXECUTE FUNCTION gallery_count('subject_count');
CREATE TRIGGER subjects_count_move AFTER UPDATE OF gallery_id ON subjects FOR EACH ROW
    WHEN (OLD.gallery_id <> NEW.gallery_id) EXECUTE FUNCTION gallery_count('subject_count');

-- The audit log is append-only, in the database too: a trigger refuses updates, deletions and
-- TRUNCATE for every role, the owner included; the application's role (facematch_app, see
-- postgres.go) is moreover granted only SELECT and INSERT on it.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- PostgreSQL only: the shared index log the replicas apply to their in-memory indexes
-- (indexlog.go). op: 'add' (vector set, NULL once forgotten) or 'delete'.
CREATE TABLE index_log (
    seq        BIGSERIAL PRIMARY KEY,
    model      TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('add', 'delete')),
    face_id    BIGINT NOT NULL,
    gallery_id BIGINT NOT NULL,
    vector     BYTEA
);
CREATE INDEX index_log_model ON index_log (model, seq);
CREATE INDEX index_log_face ON index_log (face_id) WHERE vector IS NOT NULL;

-- The log is the faces' outbox: a vector reaches it in the transaction that stores, replaces
-- or deletes it (a model switch is a deletion from one model's index and an addition to the
-- other's), so no crash between the catalog's commit and the service's next step can leave
-- the replicas' indexes without a stored face or with a deleted one; and a deleted face's
-- vector leaves the log's earlier additions at once. Writes hold the catalog's write lock, so
-- sequence numbers follow commit order.
CREATE FUNCTION faces_index_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.vector IS NOT NULL AND OLD.model <> ''
            AND (TG_OP = 'DELETE' OR NEW.vector IS DISTINCT FROM OLD.vector OR NEW.model <> OLD.model) THEN
        UPDATE index_log SET vector = NULL WHERE face_id = OLD.id AND vector IS NOT NULL;
        INSERT INTO index_log (model, op, face_id, gallery_id) VALUES (OLD.model, 'delete', OLD.id, OLD.gallery_id);
        PERFORM pg_notify('facematch_index_log', OLD.model);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.vector IS NOT NULL AND NEW.model <> ''
            AND (TG_OP = 'INSERT' OR NEW.vector IS DISTINCT FROM OLD.vector OR NEW.model <> OLD.model) THEN
        INSERT INTO index_log (model, op, face_id, gallery_id, vector) VALUES (NEW.model, 'add', NEW.id, NEW.gallery_id, NEW.vector);
        PERFORM pg_notify('facematch_index_log', NEW.model);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER faces_index_log AFTER INSERT OR DELETE OR UPDATE OF vector, model ON faces
    FOR EACH ROW EXECUTE FUNCTION faces_index_log();

-- The shards of ingest jobs that several replicas share (engine.ShardClaimer): a shard's row
-- is written once all its files are committed; who works on one is an advisory lock, not a row.
CREATE TABLE job_shards (
    job_id  BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    shard   INT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (job_id, shard)
);

-- Every replica's job runner is told when a job is queued or starts running (resumed), so that
-- all of them join a sharded ingest job at once instead of at their next poll.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ('queued', 'running') THEN
        PERFORM pg_notify('facematch_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_notify();
