-- A job's cross-match into a collection makes one review item per (suggested person, subject),
-- not one per photo (issue 15). The job's workers search every new face; what each face hit is
-- kept here, committed with the photo, until the face has a person; then the hits of one
-- person against one subject become one item (the best pair) and every hit keeps its item as
-- supporting evidence. A hit waits here, not in memory, so a crash between the commit and the
-- grouping loses nothing: the resumed job groups what is left. Deleting the photo of an item's
-- best pair deletes the item (it shows that photo) and sends its other hits back to wait, to be
-- proposed again from the best pair left.
CREATE TABLE job_face_hits (
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    face_id         INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE, -- the job's face
    gallery_face_id INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE, -- the reference face
    similarity      REAL NOT NULL,
    match_id        INTEGER REFERENCES matches (id) ON DELETE SET NULL,       -- NULL until grouped
    PRIMARY KEY (job_id, face_id, gallery_face_id)
);
CREATE INDEX job_face_hits_open ON job_face_hits (job_id, face_id) WHERE match_id IS NULL;
CREATE INDEX job_face_hits_match ON job_face_hits (match_id, similarity);
CREATE INDEX job_face_hits_face ON job_face_hits (face_id);
CREATE INDEX job_face_hits_gallery_face ON job_face_hits (gallery_face_id);

-- The suggested person a person-level review item was made for (a person search or a job's
-- cross-match), so the same person against the same subject is proposed once. No foreign key:
-- persons are replaced when a gallery is clustered again (retired_persons says where they went),
-- and the item stays.
ALTER TABLE matches ADD COLUMN person_id INTEGER;
CREATE INDEX matches_person ON matches (person_id, face_id) WHERE person_id IS NOT NULL;
