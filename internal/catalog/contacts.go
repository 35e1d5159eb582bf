package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/engine/neardup"
)

// insertContacts records the contact details of img's ad for the look-up.
func insertContacts(ctx context.Context, tx *sql.Tx, img engine.Image) error {
	for _, c := range engine.ContactsOf(img.Source) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_contacts (kind, value, image_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, c.Kind, c.Value, img.ID); err != nil {
			return fmt.Errorf("catalog: record contacts: %w", err)
		}
	}
	return nil
}

// ImagesWithContact returns up to limit photos whose ad carries the contact, newest first, in
// galleries (nil: all).
func (d *DB) ImagesWithContact(ctx context.Context, c engine.Contact, galleries []int64, limit int) ([]engine.Image, error) {
	q := imageSelect + ` WHERE id IN (SELECT image_id FROM image_contacts WHERE kind = ? AND value = ?)`
	args := []any{c.Kind, c.Value}
	if galleries != nil {
		if len(galleries) == 0 {
			return []engine.Image{}, nil
		}
		q += ` AND gallery_id IN (?` + strings.Repeat(",?", len(galleries)-1) + `)`
		for _, g := range galleries {
			args = append(args, g)
		}
	}
	rows, err := d.db.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: look-up: %w", err)
	}
	defer rows.Close()
	out := []engine.Image{}
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: look-up: %w", err)
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

// insertHashes records img's perceptual hashes (neardup.Stored) with their bands.
func insertHashes(ctx context.Context, tx *sql.Tx, img engine.Image) error {
	for v, h := range img.Hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_hashes (image_id, variant, hash, b0, b1, b2, b3) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			img.ID, v, int64(h), int64(uint16(h)), int64(uint16(h>>16)), int64(uint16(h>>32)), int64(uint16(h>>48))); err != nil {
			return fmt.Errorf("catalog: record photo hashes: %w", err)
		}
	}
	return nil
}

// ImageHashes returns a photo's stored hashes, by variant (none for a photo stored before
// schema version 5).
func (d *DB) ImageHashes(ctx context.Context, imageID int64) ([]uint64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT hash FROM image_hashes WHERE image_id = ? ORDER BY variant`, imageID)
	if err != nil {
		return nil, fmt.Errorf("catalog: photo hashes: %w", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("catalog: photo hashes: %w", err)
		}
		out = append(out, uint64(h))
	}
	return out, rows.Err()
}

// HashCandidates returns the stored hashes, with their photo and variant, whose band b is one of
// keys and whose variant is in variants (multi-index hashing's probe of one band).
func (d *DB) HashCandidates(ctx context.Context, b int, keys []uint16, variants []int) ([]engine.StoredHash, error) {
	if len(keys) == 0 || len(variants) == 0 || b < 0 || b > 3 {
		return nil, nil
	}
	args := make([]any, 0, len(keys)+len(variants))
	for _, k := range keys {
		args = append(args, int64(k))
	}
	for _, v := range variants {
		args = append(args, v)
	}
	rows, err := d.db.QueryContext(ctx, fmt.Sprintf(`SELECT image_id, variant, hash FROM image_hashes WHERE b%d IN (?`+strings.Repeat(",?", len(keys)-1)+
		`) AND variant IN (?`+strings.Repeat(",?", len(variants)-1)+`)`, b), args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: hash candidates: %w", err)
	}
	defer rows.Close()
	var out []engine.StoredHash
	for rows.Next() {
		var sh engine.StoredHash
		var h int64
		if err := rows.Scan(&sh.ImageID, &sh.Variant, &h); err != nil {
			return nil, fmt.Errorf("catalog: hash candidates: %w", err)
		}
		sh.Hash = uint64(h)
		out = append(out, sh)
	}
	return out, rows.Err()
}

// ImagesWithoutHashes returns up to limit photos with an ID above after that have no hashes,
// or faces but no face-region hashes (stored before schema version 7).
func (d *DB) ImagesWithoutHashes(ctx context.Context, after int64, limit int) ([]engine.Image, error) {
	rows, err := d.db.QueryContext(ctx, imageSelect+` WHERE id > ? AND (NOT EXISTS (SELECT 1 FROM image_hashes h WHERE h.image_id = images.id)
		OR EXISTS (SELECT 1 FROM faces f WHERE f.image_id = images.id)
			AND NOT EXISTS (SELECT 1 FROM image_hashes h WHERE h.image_id = images.id AND h.variant >= ?))
		ORDER BY id LIMIT ?`, after, neardup.FaceVariant, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: photos without hashes: %w", err)
	}
	defer rows.Close()
	var out []engine.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: photos without hashes: %w", err)
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

// SetImageHashes stores a photo's hashes, replacing any.
func (d *DB) SetImageHashes(ctx context.Context, imageID int64, hashes []uint64) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM image_hashes WHERE image_id = ?`, imageID); err != nil {
			return fmt.Errorf("catalog: set photo hashes: %w", err)
		}
		return insertHashes(ctx, tx, engine.Image{ID: imageID, Hashes: hashes})
	})
}
