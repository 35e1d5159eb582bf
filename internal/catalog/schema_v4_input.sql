-- facematch metadata, schema version 4 (input): the request ID a client gave, kept apart from
-- the server's own (request_id), and only when short and well-formed (the API checks).
ALTER TABLE audit ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';
