-- Apparent age (issue 16): each accepted, frontal enough face's estimate with its measured range
-- and model (JSON, engine.ApparentAge; NULL without one), the reason it has none, and the
-- possible-minor flag under the line in force when it was estimated, indexed for the review
-- queue's and the persons page's filters. Derived data: it goes with its face.
ALTER TABLE faces ADD COLUMN age TEXT;
ALTER TABLE faces ADD COLUMN no_age TEXT NOT NULL DEFAULT '';
ALTER TABLE faces ADD COLUMN possible_minor INTEGER NOT NULL DEFAULT 0;
CREATE INDEX faces_possible_minor ON faces (gallery_id, id) WHERE possible_minor = 1;

ALTER TABLE probe_faces ADD COLUMN age TEXT;
ALTER TABLE probe_faces ADD COLUMN no_age TEXT NOT NULL DEFAULT '';
ALTER TABLE probe_faces ADD COLUMN possible_minor INTEGER NOT NULL DEFAULT 0;
CREATE INDEX probe_faces_possible_minor ON probe_faces (id) WHERE possible_minor = 1;

-- A job counts the faces it stored that look under 18, for its progress and its job.done entry.
ALTER TABLE jobs ADD COLUMN possible_minors INTEGER NOT NULL DEFAULT 0;
