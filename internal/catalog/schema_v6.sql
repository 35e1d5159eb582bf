-- facematch metadata, schema version 6 (issue 15): a case report gathers the audit trail of the
-- records it covers (a person, its photos and faces; a match, its search and faces), read by
-- target.
CREATE INDEX audit_target ON audit (target, id);
