-- Every search reads its galleries with their counts of images, faces and subjects (the
-- operating point depends on the gallery's size). Counting rows per search grows with the
-- gallery: faces had no index on gallery_id, so each search scanned the whole faces table
-- (107 ms at 100k faces), and even an index scan is linear. The counts are kept on the gallery
-- row instead, by triggers, so they change in the same transaction as the rows they count,
-- including rows removed by ON DELETE CASCADE (SQLite fires triggers for foreign-key actions).
ALTER TABLE galleries ADD COLUMN image_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE galleries ADD COLUMN face_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE galleries ADD COLUMN subject_count INTEGER NOT NULL DEFAULT 0;
UPDATE galleries SET
    image_count = (SELECT count(*) FROM images WHERE gallery_id = galleries.id),
    face_count = (SELECT count(*) FROM faces WHERE gallery_id = galleries.id),
    subject_count = (SELECT count(*) FROM subjects WHERE gallery_id = galleries.id);

-- A gallery's faces are also read and deleted by gallery (persons, deletion of a gallery).
CREATE INDEX faces_gallery ON faces (gallery_id);

CREATE TRIGGER images_count_insert AFTER INSERT ON images BEGIN
    UPDATE galleries SET image_count = image_count + 1 WHERE id = NEW.gallery_id;
END;
CREATE TRIGGER images_count_delete AFTER DELETE ON images BEGIN
    UPDATE galleries SET image_count = image_count - 1 WHERE id = OLD.gallery_id;
END;
CREATE TRIGGER images_count_move AFTER UPDATE OF gallery_id ON images WHEN OLD.gallery_id != NEW.gallery_id BEGIN
    UPDATE galleries SET image_count = image_count - 1 WHERE id = OLD.gallery_id;
    UPDATE galleries SET image_count = image_count + 1 WHERE id = NEW.gallery_id;
END;

CREATE TRIGGER faces_count_insert AFTER INSERT ON faces BEGIN
    UPDATE galleries SET face_count = face_count + 1 WHERE id = NEW.gallery_id;
END;
CREATE TRIGGER faces_count_delete AFTER DELETE ON faces BEGIN
    UPDATE galleries SET face_count = face_count - 1 WHERE id = OLD.gallery_id;
END;
CREATE TRIGGER faces_count_move AFTER UPDATE OF gallery_id ON faces WHEN OLD.gallery_id != NEW.gallery_id BEGIN
    UPDATE galleries SET face_count = face_count - 1 WHERE id = OLD.gallery_id;
    UPDATE galleries SET face_count = face_count + 1 WHERE id = NEW.gallery_id;
END;

CREATE TRIGGER subjects_count_insert AFTER INSERT ON subjects BEGIN
    UPDATE galleries SET subject_count = subject_count + 1 WHERE id = NEW.gallery_id;
END;
CREATE TRIGGER subjects_count_delete AFTER DELETE ON subjects BEGIN
    UPDATE galleries SET subject_count = subject_count - 1 WHERE id = OLD.gallery_id;
END;
CREATE TRIGGER subjects_count_move AFTER UPDATE OF gallery_id ON subjects WHEN OLD.gallery_id != NEW.gallery_id BEGIN
    UPDATE galleries SET subject_count = subject_count - 1 WHERE id = OLD.gallery_id;
    UPDATE galleries SET subject_count = subject_count + 1 WHERE id = NEW.gallery_id;
END;
