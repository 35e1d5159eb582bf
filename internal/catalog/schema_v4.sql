-- facematch metadata, schema version 4: a tamper-evident audit log. Each entry carries the hash
-- of the one before it (prev_hash) and its own (hash: sha256 over prev_hash and its fields, see
-- chain.go), so that changing or removing an entry breaks the chain from there on.
--
-- The append-only trigger on updates is dropped here so that the migration can fill in the
-- existing entries' hashes (in Go, in the same transaction), and created again right after.

DROP TRIGGER audit_no_update;
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
