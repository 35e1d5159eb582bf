package engine

import (
	"context"
	"fmt"
	"io"
)

// ImageBytes returns a stored photo's original bytes; every access is audited.
func (s *Service) ImageBytes(ctx context.Context, a Actor, id int64) (Image, []byte, error) {
	img, err := s.cfg.Catalog.Image(ctx, id)
	if err != nil {
		return img, nil, err
	}
	if err := checkGallery(a, img.GalleryID); err != nil {
		return Image{}, nil, err
	}
	data, err := s.readBlob(ctx, img.BlobKey)
	if err != nil {
		return img, nil, err
	}
	if err := s.auditRead(ctx, entry(a, "image.view", ref("image", id), []int64{img.GalleryID}, "", "")); err != nil {
		return img, nil, err
	}
	return img, data, nil
}

// FaceThumbnail returns a stored face's thumbnail (JPEG); every access is audited, like the
// photo's.
func (s *Service) FaceThumbnail(ctx context.Context, a Actor, id int64) ([]byte, error) {
	f, err := s.cfg.Catalog.Face(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkGallery(a, f.GalleryID); err != nil {
		return nil, err
	}
	data, err := s.readBlob(ctx, f.ThumbKey)
	if err != nil {
		return nil, err
	}
	if err := s.auditRead(ctx, entry(a, "face.thumbnail.view", ref("face", id), []int64{f.GalleryID}, "", "")); err != nil {
		return nil, err
	}
	return data, nil
}

// ProbeThumbnail returns a search probe face's thumbnail (JPEG); every access is audited.
func (s *Service) ProbeThumbnail(ctx context.Context, a Actor, id int64) ([]byte, error) {
	p, err := s.cfg.Catalog.ProbeFace(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, _, err := s.searchRecord(ctx, a, p.SearchID)
	if err != nil {
		return nil, err
	}
	data, err := s.readBlob(ctx, p.ThumbKey)
	if err != nil {
		return nil, err
	}
	if err := s.auditRead(ctx, entry(a, "probe.thumbnail.view", ref("probe_face", id), rec.Galleries, "", "")); err != nil {
		return nil, err
	}
	return data, nil
}

func (s *Service) readBlob(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.cfg.Blobs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("service: read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("service: read %s: %w", key, err)
	}
	return data, nil
}
