package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/facematch/facematch/face"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/models/decode"
)

// Reprocessing moves a gallery to another embedding model without a gap in service: every
// stored face is re-embedded from its original photo and stored landmarks (no new detection,
// so face IDs, review items and decisions stay), the new vectors are staged in the catalog and
// added to the new model's index, where the gallery filter hides them, while searches keep
// using the old model. When every face has its new vector, one catalog transaction switches
// the gallery, and the old vectors are purged from the old index. No face is ever compared
// across models: a search picks one model per gallery, and uploads embedded with the old model
// after the switch are refused by the catalog.

func (s *Service) checkReprocess(ctx context.Context, g Gallery, req *JobRequest) error {
	p, ok := s.cfg.Pipelines[req.Spec.Model]
	if !ok {
		names := make([]string, 0, len(s.cfg.Pipelines))
		for n := range s.cfg.Pipelines {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("model must be one this service runs (%s), got %q: %w", strings.Join(names, ", "), req.Spec.Model, ErrInvalid)
	}
	if p.Embedder.Identity() == g.Model {
		return fmt.Errorf("gallery %d already uses %s: %w", g.ID, g.Model, ErrConflict)
	}
	if req.Spec.Source != "" || len(req.Spec.CrossMatch) > 0 || req.Meta != nil {
		return fmt.Errorf("a reprocess job takes a model, not a source, metadata or cross_match: %w", ErrInvalid)
	}
	open, err := s.cfg.Catalog.Jobs(ctx, JobFilter{GalleryID: g.ID, State: []JobState{JobQueued, JobRunning, JobCancelled, JobFailed}, Limit: 1000})
	if err != nil {
		return err
	}
	for _, j := range open {
		if j.Kind == ReprocessJob {
			return fmt.Errorf("gallery %d already has reprocess job %d (%s): resume or finish it first: %w", g.ID, j.ID, j.State, ErrConflict)
		}
	}
	return nil
}

func (s *Service) runReprocess(ctx context.Context, j Job, progress func(Job)) (Job, error) {
	g, err := s.cfg.Catalog.Gallery(ctx, j.GalleryID)
	if err != nil {
		return j, err
	}
	p, ok := s.cfg.Pipelines[j.Spec.Model]
	if !ok {
		return j, fmt.Errorf("model %q is not run by this service", j.Spec.Model)
	}
	target := p.Embedder.Identity()
	if g.Model == target {
		return j, nil // switched before a crash: nothing left
	}
	if err := s.cfg.Catalog.SetJobTotal(ctx, j.ID, g.Images); err != nil {
		return j, err
	}
	// Faces stored meanwhile (uploads go on with the old model) are picked up by the next
	// round; the switch refuses while any is left.
	for round := 0; ; round++ {
		if j, err = s.stageAll(ctx, j, g.ID, p, target, progress); err != nil || j.State != JobRunning {
			return j, err
		}
		var purge Purge
		err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
			var err error
			purge, err = c.SwitchModel(ctx, j.ID, g.ID, target)
			return entry(Actor{Name: j.CreatedBy}, "gallery.model.switch", ref("gallery", g.ID), []int64{g.ID}, "from="+g.Model, "to="+target), err
		})
		if errors.Is(err, ErrConflict) && round < 10 {
			continue
		}
		if err != nil {
			return j, err
		}
		s.log.Info("gallery switched models", "gallery", g.ID, "from", g.Model, "to", target, "job", j.ID)
		if err := s.purge(ctx, purge); err != nil {
			// The purge is recorded: FinishPurges completes it at the next start.
			s.log.Error("purging the old model's vectors failed", "gallery", g.ID, "err", err)
		}
		return s.cfg.Catalog.Job(ctx, j.ID)
	}
}

// stageAll re-embeds every face of the gallery not yet staged, W images at a time.
func (s *Service) stageAll(ctx context.Context, j Job, galleryID int64, p *Pipeline, target string, progress func(Job)) (Job, error) {
	ix, ok := s.cfg.Indexes[target]
	if !ok {
		return j, fmt.Errorf("model %s has no index", target)
	}
	var after int64
	for {
		todo, err := s.cfg.Catalog.ReprocessTodo(ctx, j.ID, galleryID, target, after, s.cfg.JobWorkers*4)
		if err != nil || len(todo) == 0 {
			return j, err
		}
		after = todo[len(todo)-1].Image.ID
		staged := make([][]StagedVector, len(todo))
		errs := make([]error, len(todo))
		var wg sync.WaitGroup
		sem := make(chan struct{}, s.cfg.JobWorkers)
		for i, ri := range todo {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				staged[i], errs[i] = s.reembed(ctx, p, ri)
			}()
		}
		wg.Wait()
		var all []StagedVector
		for i := range todo {
			if errs[i] != nil {
				return j, errs[i]
			}
			all = append(all, staged[i]...)
		}
		if j, err = s.cfg.Catalog.StageVectors(ctx, j.ID, target, all, len(todo)); err != nil {
			return j, err
		}
		entries := make([]index.Entry, len(all))
		for i, v := range all {
			entries[i] = index.Entry{ID: uint64(v.FaceID), Gallery: uint64(galleryID), Vector: v.Vector}
		}
		if err := ix.Add(ctx, target, entries); err != nil {
			return j, fmt.Errorf("service: index staged vectors: %w", err)
		}
		if progress != nil {
			progress(j)
		}
		if j.State != JobRunning {
			return j, nil
		}
	}
}

// reembed embeds an image's faces with p from the original photo and the stored landmarks.
func (s *Service) reembed(ctx context.Context, p *Pipeline, ri ReprocessImage) ([]StagedVector, error) {
	data, err := s.readBlob(ctx, ri.Image.BlobKey)
	if err != nil {
		return nil, err
	}
	// The photo was accepted once; limits may have tightened since, so decode without them.
	d, t, err := s.decodeAdmitted(ctx, decode.Limits{MaxBytes: int64(len(data)) + 1, MaxPixels: int64(ri.Image.Width*ri.Image.Height) + 1}, data, true)
	if err != nil {
		return nil, fmt.Errorf("service: image %d: %w", ri.Image.ID, err)
	}
	defer t.release()
	img := d.img
	lms := make([]face.Landmarks, len(ri.Faces))
	for i, f := range ri.Faces {
		for k := range lms[i] {
			lms[i][k] = face.Point{X: f.Landmarks[2*k], Y: f.Landmarks[2*k+1]}
		}
	}
	embs, err := p.Embedder.Embed(ctx, img, lms)
	if err != nil {
		return nil, fmt.Errorf("service: re-embed image %d: %w", ri.Image.ID, err)
	}
	out := make([]StagedVector, len(ri.Faces))
	for i, f := range ri.Faces {
		out[i] = StagedVector{FaceID: f.ID, Vector: embs[i].Vector}
	}
	return out, nil
}
