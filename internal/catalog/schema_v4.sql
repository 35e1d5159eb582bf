-- facematch metadata, schema version 4 (issue 12): credentials belong to people, expire and may
-- be limited to galleries; the audit log keeps a client's request ID apart and is a hash chain.

-- user_name is the person a credential belongs to; the two-reviewer rule compares people, so a
-- person holds at most one active reviewer credential. Credentials made before version 4 belong
-- to a person of their own name and never expire (expires_at NULL) until rotated.
ALTER TABLE tokens ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
UPDATE tokens SET user_name = name;
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN rotated_at TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
CREATE UNIQUE INDEX tokens_one_reviewer_per_user ON tokens (user_name) WHERE role = 'reviewer' AND revoked_at IS NULL;

-- A credential may be granted some galleries only (NULL: all, as before): a JSON array of
-- gallery IDs. Only analyst and reviewer credentials are scoped.
ALTER TABLE tokens ADD COLUMN galleries TEXT;

-- The request ID a client gave, kept apart from the server's own (request_id), and only when
-- short and well-formed (the API checks).
ALTER TABLE audit ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';

-- A tamper-evident audit log. Each entry carries the hash of the one before it (prev_hash) and
-- its own (hash: sha256 over prev_hash and its fields, see chain.go), so that changing or
-- removing an entry breaks the chain from there on.
--
-- The append-only trigger on updates is dropped here so that the migration can fill in the
-- existing entries' hashes (in Go, in the same transaction), and created again right after.

DROP TRIGGER audit_no_update;
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
