package scalebench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/catalog"
)

// NoAgeSynthetic marks synthetic faces' missing age, so that an age backfill passes them by.
const NoAgeSynthetic = "synthetic face (bench scale)"

// bulkLoad stores n synthetic photos of one face each in the gallery through the catalog's
// AddImage, batch photos to a transaction. The vectors are the source of truth the service's
// index is rebuilt from: at its next start the service reconciles its index with the catalog
// and indexes them, so catalog and index cannot disagree. fill writes the unit vectors of faces
// from to from+len(out)/dim.
func bulkLoad(ctx context.Context, cat *catalog.DB, gallery int64, model string, dim, n, batch int,
	fill func(from int, out []float32), progress func(done int)) error {
	now := time.Now().UTC()
	buf := make([]float32, batch*dim)
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		vs := buf[:(to-from)*dim]
		fill(from, vs)
		err := cat.Atomically(ctx, func(c engine.Catalog) error {
			for i := from; i < to; i++ {
				v := vs[(i-from)*dim : (i-from+1)*dim]
				img, face := syntheticPhoto(i, gallery, model, now)
				if _, _, err := c.AddImage(ctx, img, []engine.NewFace{{Face: face, Vector: v}}); err != nil {
					return fmt.Errorf("scalebench: synthetic photo %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if progress != nil {
			progress(to)
		}
	}
	return nil
}

// syntheticPhoto is the record of synthetic photo i: no bytes stored (its sha256 is of its
// name, so every one is distinct), one face box covering it.
func syntheticPhoto(i int, gallery int64, model string, at time.Time) (engine.Image, engine.StoredFace) {
	sum := sha256.Sum256([]byte("bench scale synthetic photo " + strconv.Itoa(i)))
	img := engine.Image{GalleryID: gallery, SHA256: hex.EncodeToString(sum[:]), Format: "jpeg", Width: 112, Height: 112,
		CreatedAt: at, CreatedBy: "bench scale"}
	face := engine.StoredFace{Box: engine.Box{W: 112, H: 112}, Model: model, NoAge: NoAgeSynthetic}
	return img, face
}
