package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/facematch/facematch/engine"
)

// insertContacts records the contact details of img's ad for the look-up.
func insertContacts(ctx context.Context, tx *sql.Tx, img engine.Image) error {
	for _, c := range engine.ContactsOf(img.Source) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO image_contacts (kind, value, image_id) VALUES (?, ?, ?)`, c.Kind, c.Value, img.ID); err != nil {
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
