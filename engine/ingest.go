package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/models/decode"
)

// UploadSourcePrefix marks a job source that is an archive uploaded into the blob store:
// "upload:KEY". The source opener reads KEY from the blob store.
const UploadSourcePrefix = "upload:"

// DefaultJobCommitBatch is the most files an ingest job commits in one catalog transaction,
// and batchWait the longest a finished file waits for others to share its transaction.
const (
	DefaultJobCommitBatch = 32
	batchWait             = 250 * time.Millisecond
)

func (s *Service) checkIngest(ctx context.Context, g Gallery, req *JobRequest) error {
	if s.cfg.Sources == nil {
		return fmt.Errorf("this service runs no ingest jobs: %w", ErrConflict)
	}
	if g.Kind != Collection {
		return fmt.Errorf("gallery %d is a reference gallery: ingest jobs fill collections (reference photos each need a subject): %w", g.ID, ErrInvalid)
	}
	if _, ok := s.byIdentity[g.Model]; !ok {
		return fmt.Errorf("gallery %d uses model %s, which this service does not run: %w", g.ID, g.Model, ErrConflict)
	}
	spec := &req.Spec
	switch {
	case req.Archive != nil && spec.Source != "":
		return fmt.Errorf("give a source or an archive, not both: %w", ErrInvalid)
	case req.Archive == nil && strings.TrimSpace(spec.Source) == "":
		return fmt.Errorf("source (s3://bucket/prefix or a path under the ingest root) or an archive is required: %w", ErrInvalid)
	case strings.HasPrefix(spec.Source, UploadSourcePrefix):
		return fmt.Errorf("source %q names an upload: upload the archive itself: %w", spec.Source, ErrInvalid)
	}
	if spec.K == 0 {
		spec.K = 5
	}
	if spec.K < 1 || spec.K > s.cfg.MaxK {
		return fmt.Errorf("k must be in [1, %d], got %d: %w", s.cfg.MaxK, spec.K, ErrInvalid)
	}
	seen := map[int64]bool{}
	refs := spec.CrossMatch[:0:0]
	for _, id := range spec.CrossMatch {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return fmt.Errorf("cross_match: %w", err)
		}
		switch {
		case r.Kind != Reference:
			return fmt.Errorf("cross_match: gallery %d is not a reference gallery: %w", id, ErrInvalid)
		case r.Model != g.Model:
			// Faces of different models are never compared.
			return fmt.Errorf("cross_match: gallery %d uses model %s, gallery %d uses %s: faces of different models are never compared: %w",
				id, r.Model, g.ID, g.Model, ErrConflict)
		}
		refs = append(refs, id)
	}
	spec.CrossMatch = refs
	// Without min_similarity each reference gallery's operating threshold decides, as for a
	// search: a job of thousands of faces is thousands of searches of mostly strangers.
	if len(refs) > 0 && spec.MinSim == 0 && len(s.tailFor(g.Model)) == 0 {
		return fmt.Errorf("min_similarity is required: model %s has no measured impostor tail: %w", g.Model, ErrInvalid)
	}
	if !(spec.MinSim >= -1 && spec.MinSim <= 1) { // NaN too
		return fmt.Errorf("min_similarity must be in [-1, 1], got %g: %w", spec.MinSim, ErrInvalid)
	}
	if req.Meta != nil {
		if s.cfg.Meta == nil {
			return fmt.Errorf("this service reads no metadata sidecars: %w", ErrConflict)
		}
		if _, err := s.cfg.Meta(bytes.NewReader(req.Meta), spec.MetaFormat); err != nil {
			return fmt.Errorf("metadata: %w: %w", err, ErrInvalid)
		}
		// A key of the job's own (not the content's hash): deleting one job's sidecar must not
		// remove another's.
		spec.MetaKey = "jobs/meta/" + nonce() + "." + spec.MetaFormat
		if err := s.cfg.Blobs.Put(ctx, spec.MetaKey, bytes.NewReader(req.Meta), int64(len(req.Meta))); err != nil {
			s.deleteBlobs(ctx, []string{spec.MetaKey})
			return fmt.Errorf("service: store metadata: %w", err)
		}
	}
	if req.Archive != nil {
		key := "jobs/uploads/" + nonce()
		if err := s.cfg.Blobs.Put(ctx, key, req.Archive, req.ArchiveSize); err != nil {
			s.deleteBlobs(ctx, append(spec.BlobKeys(), key))
			return fmt.Errorf("service: store archive: %w", err)
		}
		spec.Source = UploadSourcePrefix + key
	}
	src, err := s.cfg.Sources.OpenSource(ctx, spec.Source)
	if err != nil {
		s.deleteBlobs(ctx, spec.BlobKeys())
		if errors.Is(err, ErrUnavailable) { // the source's server is down: retry later, not a bad request
			return err
		}
		return withKind(ErrInvalid, err) // the opener names the source and what is wrong with it
	}
	return src.Close()
}

// fileTask is one source file read into memory.
type fileTask struct {
	name string
	data []byte
}

// ingestRun is one run of an ingest job: its gallery, pipeline and cross-match settings.
type ingestRun struct {
	s       *Service
	job     Job
	gallery Gallery
	p       *Pipeline
	meta    MetaLookup
	// thresholds are the cross-matched galleries' operating thresholds when the run started
	// (used where the job sets no min_similarity, which never goes below minorThresholds for a
	// face that looks under 18).
	thresholds map[uint64]float32
	// minorThresholds are the same for faces that look under 18 (the minors' line).
	minorThresholds map[uint64]float32
	// shards is the run's share of a job several processes work on (nil: all of it).
	shards *shardPass
}

// runIngest runs an ingest job, or with ServiceConfig.Shards this process's share of it. The
// returned release, called once the job's end is recorded, lets another process finish it
// (see finishShards); errShardsLeft says the job stays running for other processes.
func (s *Service) runIngest(ctx context.Context, j Job, progress func(Job)) (Job, func(), error) {
	noop := func() {}
	g, err := s.cfg.Catalog.Gallery(ctx, j.GalleryID)
	if err != nil {
		return j, noop, err
	}
	p, ok := s.byIdentity[g.Model]
	if !ok {
		return j, noop, fmt.Errorf("gallery %d uses model %s, which this service does not run", g.ID, g.Model)
	}
	if s.cfg.Sources == nil {
		return j, noop, errors.New("this service runs no ingest jobs")
	}
	run := &ingestRun{s: s, job: j, gallery: g, p: p, thresholds: map[uint64]float32{}, minorThresholds: map[uint64]float32{}}
	if s.cfg.Shards != nil {
		if run.shards, err = newShardPass(ctx, s.cfg.Shards, j.ID); err != nil {
			return j, noop, err
		}
		defer run.shards.release() // a pass that fails or is stopped leaves its shards to others
	}
	for _, id := range j.Spec.CrossMatch {
		r, err := s.cfg.Catalog.Gallery(ctx, id)
		if err != nil {
			return j, noop, fmt.Errorf("cross_match: %w", err)
		}
		if op := s.operatingPoint(r); op.Threshold != nil {
			run.thresholds[uint64(id)] = *op.Threshold
		}
		if op := s.operatingPointFor(r, true); op.Threshold != nil {
			run.minorThresholds[uint64(id)] = *op.Threshold
		}
	}
	if j.Spec.MetaKey != "" {
		if run.meta, err = s.loadMeta(ctx, j.Spec); err != nil {
			return j, noop, err
		}
	}
	if len(j.Spec.CrossMatch) > 0 && j.SearchID == nil {
		if err := run.recordSearch(ctx); err != nil {
			return j, noop, err
		}
	}
	src, err := s.cfg.Sources.OpenSource(ctx, j.Spec.Source)
	if err != nil {
		return j, noop, fmt.Errorf("source %s: %w", j.Spec.Source, err)
	}
	defer src.Close()
	// Every process of a sharded job counts the same total; once one has, the others need
	// not list the source twice.
	if run.shards == nil || j.Total < 0 {
		total := 0
		if err := src.Files(ctx, func(SourceFile) error { total++; return nil }); err != nil {
			s.log.Warn("job source listing stopped early", "job", j.ID, "files", total, "err", err)
		}
		if err := s.cfg.Catalog.SetJobTotal(ctx, j.ID, total); err != nil {
			return j, noop, err
		}
		run.job.Total = total
	}
	done, err := run.pump(ctx, src, progress)
	finish := noop
	if run.shards != nil && err == nil && ctx.Err() == nil && done.State == JobRunning {
		// The pass went through the whole source: the job is finished here only if every
		// shard is done and this process claims the finishing.
		if done, finish, err = run.finishShards(ctx, done); err != nil {
			return done, noop, err
		}
	}
	if err == nil {
		// Faces a crash or an error left without a person since they were indexed.
		s.placeUnplaced(ctx, g)
	}
	if err == nil && ctx.Err() == nil && run.byPerson() {
		// Done or cancelled (an interrupted run groups its hits when it resumes): every hit
		// becomes or joins a review item now, a face still without a person on its own.
		if _, err := s.matchPersons(ctx, done, nil, true); err != nil {
			return done, finish, err
		}
	}
	return done, finish, err
}

// recordSearch records the job's cross-match as a search by the job's creator: its matches are
// review items like any search's, and the creator may not decide them.
func (r *ingestRun) recordSearch(ctx context.Context) error {
	s, j := r.s, r.job
	if r.shards != nil {
		// Processes starting a sharded job together must record one search: the one holding
		// the job's finishing shard does, the others come back in a later pass.
		release, ok, err := s.cfg.Shards.ClaimShard(ctx, j.ID, finishShard)
		switch {
		case err != nil:
			return fmt.Errorf("job %d: %w", j.ID, err)
		case !ok:
			return errShardsLeft
		}
		defer release()
		cur, err := s.cfg.Catalog.Job(ctx, j.ID)
		if err != nil {
			return err
		}
		if cur.SearchID != nil {
			r.job.SearchID = cur.SearchID
			return nil
		}
	}
	rec, _, _, err := s.cfg.Catalog.RecordSearch(ctx, SearchRecord{Actor: j.CreatedBy,
		Purpose: fmt.Sprintf("job %d cross-match: %s", j.ID, j.Spec.Purpose), Galleries: j.Spec.CrossMatch,
		K: j.Spec.K, MinSim: j.Spec.MinSim, CreatedAt: time.Now()}, nil, nil)
	if err != nil {
		return err
	}
	if err := s.cfg.Catalog.SetJobSearch(ctx, j.ID, rec.ID); err != nil {
		return err
	}
	r.job.SearchID = &rec.ID
	return nil
}

func (s *Service) loadMeta(ctx context.Context, spec JobSpec) (MetaLookup, error) {
	data, err := s.readBlob(ctx, spec.MetaKey)
	if err != nil {
		return nil, err
	}
	if s.cfg.Meta == nil {
		return nil, errors.New("this service reads no metadata sidecars")
	}
	return s.cfg.Meta(bytes.NewReader(data), spec.MetaFormat)
}

// pump runs the ingest pipeline: one reader lists the source and reads files not yet done,
// JobWorkers workers hash, deduplicate, decode, detect, embed, store blobs and cross-match
// (so decoding, inference and storage of different files overlap), and the calling goroutine
// commits finished files in batches and indexes them. Every channel is bounded: memory holds
// at most a few files per worker whatever the job's size, and a slow index or catalog slows
// the reader down.
func (r *ingestRun) pump(parent context.Context, src JobSource, progress func(Job)) (Job, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	workers := r.s.cfg.JobWorkers
	tasks := make(chan fileTask, workers)
	// Finished files hold no photo bytes (the store stage drops them), so the committer may
	// lag two batches behind without holding memory or stalling the workers during its fsync.
	results := make(chan ingestResult, 2*r.s.cfg.JobCommitBatch)

	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr = r.read(ctx, src, tasks, results)
		close(tasks)
	}()
	// Analysis is CPU-bound and storing is I/O-bound (every blob is fsynced): separate stages,
	// so that a core never idles while its photo's blobs reach the disk.
	analysed := make(chan ingestResult, workers)
	var analyseWG, storeWG sync.WaitGroup
	for range workers {
		analyseWG.Add(1)
		go func() {
			defer analyseWG.Done()
			for t := range tasks {
				select {
				case analysed <- r.analyze(ctx, t):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for range 2 * workers { // waiting on fsync, not on a core
		storeWG.Add(1)
		go func() {
			defer storeWG.Done()
			for res := range analysed {
				if res.err == nil && len(res.puts) > 0 {
					if res.err = r.s.putBlobs(ctx, res.puts); res.err == nil {
						res.keys = keysOf(res.puts)
					}
					res.puts = nil
				}
				select {
				case results <- res:
				case <-ctx.Done():
					r.s.deleteBlobs(ctx, res.keys) // never to be committed
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		analyseWG.Wait()
		close(analysed)
		storeWG.Wait()
		close(results)
	}()

	job, err := r.commitLoop(ctx, results, progress)
	cancel()
	// Let the workers and reader see the cancel and stop; what they stored will not be
	// committed by this run (a resumed run stores those files again under new keys).
	for res := range results {
		r.s.deleteBlobs(ctx, res.keys)
	}
	switch {
	case err != nil:
		return job, err
	case parent.Err() != nil:
		return job, parent.Err() // interrupted: the files not committed are redone on resume
	case readErr != nil && job.State == JobRunning:
		return job, fmt.Errorf("source: %w", readErr)
	}
	return job, nil
}

// ingestResult is a finished file, or trouble that stops the job (err: storage, not the file).
type ingestResult struct {
	item IngestItem
	puts []blobPut // blobs to store before the item is committed
	keys []string  // the blobs stored, once they are
	err  error
}

// read lists the source and sends the files the job has not finished (of a sharded job, those
// of the shards this run claims).
func (r *ingestRun) read(ctx context.Context, src JobSource, tasks chan<- fileTask, results chan<- ingestResult) error {
	limit := r.p.Limits.MaxBytes
	if limit <= 0 {
		limit = decode.DefaultLimits().MaxBytes
	}
	send := func(res ingestResult) error {
		select {
		case results <- res:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return src.Files(ctx, func(f SourceFile) error {
		if r.shards != nil {
			if mine, err := r.shards.take(ctx, f.Name); err != nil || !mine {
				return err
			}
		}
		done, err := r.s.cfg.Catalog.JobItemDone(ctx, r.job.ID, f.Name)
		if err != nil || done {
			return err
		}
		fail := func(reason string) error {
			return send(ingestResult{item: IngestItem{Item: JobItem{Name: f.Name, State: ItemFailed, Reason: reason}}})
		}
		if f.Refused != "" {
			return fail(f.Refused)
		}
		if f.Size > limit {
			return fail(fmt.Sprintf("file is %d bytes, over the %d-byte limit", f.Size, limit))
		}
		rc, err := f.Open(ctx)
		if err != nil {
			return fail("cannot read: " + err.Error())
		}
		data, err := io.ReadAll(io.LimitReader(rc, limit+1))
		rc.Close()
		switch {
		case err != nil:
			return fail("cannot read: " + err.Error())
		case int64(len(data)) > limit:
			return fail(fmt.Sprintf("file is over the %d-byte limit", limit))
		}
		select {
		case tasks <- fileTask{name: f.Name, data: data}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// analyze turns one file into a finished item: a duplicate of a stored image (found by hash
// before any decoding), a new image with its faces and the blobs to store, a photo without a
// face, or a failure with its reason.
func (r *ingestRun) analyze(ctx context.Context, t fileTask) ingestResult {
	item := IngestItem{Item: JobItem{Name: t.name}}
	var puts []blobPut
	sum := sha256.Sum256(t.data)
	sha := hex.EncodeToString(sum[:])
	img, faces, err := r.s.cfg.Catalog.ImageBySHA256(ctx, r.gallery.ID, sha)
	switch {
	case err == nil:
		item.Item.State, item.Image, item.Faces = ItemDuplicate, &img, faces
		item.Item.ImageID = &img.ID
	case !errors.Is(err, ErrNotFound):
		return ingestResult{err: err}
	default:
		res, done := r.analyzeNew(ctx, t, sha, &item)
		if done {
			return res
		}
		puts = res.puts
	}
	var err2 error
	if item.Probes, err2 = r.crossMatch(ctx, item.Faces); err2 != nil {
		return ingestResult{err: err2}
	}
	return ingestResult{item: item, puts: puts}
}

// analyzeNew analyses a file the gallery does not hold and returns the blobs to store. done
// reports that res is final (no face, a failure, trouble).
func (r *ingestRun) analyzeNew(ctx context.Context, t fileTask, sha string, item *IngestItem) (res ingestResult, done bool) {
	ph, release, err := r.s.analyzePhoto(ctx, r.p, t.data, true)
	switch {
	case errors.Is(err, ErrNoFace):
		item.Item.State, item.Item.Reason = ItemNoFace, "no face found"
		return ingestResult{item: *item}, true
	case err != nil && ctx.Err() != nil:
		return ingestResult{err: ctx.Err()}, true
	case err != nil:
		item.Item.State, item.Item.Reason = ItemFailed, err.Error()
		return ingestResult{item: *item}, true
	}
	source := Source{}
	if r.meta != nil {
		if m, ok := r.meta.For(t.name); ok {
			// The sidecar was checked when the job was created; a resumed job's may have been
			// written by an older version, so its record is checked again, for this file only.
			if source, err = CleanSource(m); err != nil {
				item.Item.State, item.Item.Reason = ItemFailed, "metadata: "+err.Error()
				return ingestResult{item: *item}, true
			}
		}
	}
	jobID := r.job.ID
	record, faces, puts, err := newImage(ph, t.data, Image{GalleryID: r.gallery.ID, Source: source, CreatedBy: r.job.CreatedBy, OriginJobID: &jobID})
	release()
	if err != nil {
		return ingestResult{err: err}, true
	}
	item.Faces = faces
	item.Item.State, item.Image = ItemStored, &record
	return ingestResult{puts: puts}, false
}

// crossMatch searches each accepted face in the job's reference galleries.
func (r *ingestRun) crossMatch(ctx context.Context, faces []NewFace) ([]JobProbe, error) {
	spec := r.job.Spec
	if len(spec.CrossMatch) == 0 {
		return nil, nil
	}
	var probes []JobProbe
	for i, f := range faces {
		if f.Vector == nil || f.Face.Model != r.gallery.Model {
			continue
		}
		hits, err := r.s.cfg.Indexes[r.gallery.Model].Search(ctx, r.gallery.Model, f.Vector, fetchK(spec.K), index.Filter{Galleries: toU64(spec.CrossMatch)})
		if err != nil {
			return nil, fmt.Errorf("service: cross-match: %w", err)
		}
		scored, err := r.s.subjectScored(ctx, hits)
		if err != nil {
			return nil, fmt.Errorf("service: cross-match: %w", err)
		}
		var cands []Candidate
		for _, h := range scored {
			// A face that looks under 18 is matched under the minors' line, never below it.
			minor := f.Face.Age != nil && f.Face.Age.PossibleMinor
			line, ok := r.thresholds[uint64(h.GalleryID)]
			minorLine, minorOK := r.minorThresholds[uint64(h.GalleryID)]
			if minor {
				line, ok = minorLine, minorOK
			}
			if spec.MinSim != 0 {
				line, ok = spec.MinSim, true
				if minor && minorOK {
					line = max(line, minorLine)
				}
			}
			if ok && h.Similarity >= line && len(cands) < spec.K {
				cands = append(cands, Candidate{FaceID: h.FaceID, GalleryID: h.GalleryID, Similarity: h.Similarity, Rank: len(cands) + 1})
			}
		}
		if len(cands) > 0 {
			probes = append(probes, JobProbe{Face: i, Candidates: cands, ByPerson: r.byPerson()})
		}
	}
	return probes, nil
}

// commitLoop commits finished files in batches until results close, the job is cancelled or
// something fails.
func (r *ingestRun) commitLoop(ctx context.Context, results <-chan ingestResult, progress func(Job)) (Job, error) {
	job := r.job
	for {
		var batch []IngestItem
		var keys [][]string // the blobs each item stored
		first, ok := <-results
		if !ok {
			return job, nil
		}
		if first.err != nil {
			return job, first.err
		}
		batch, keys = append(batch, first.item), append(keys, first.keys)
		timer := time.NewTimer(batchWait)
	fill:
		for len(batch) < r.s.cfg.JobCommitBatch {
			select {
			case res, ok := <-results:
				if !ok {
					break fill
				}
				if res.err != nil {
					timer.Stop()
					r.s.deleteBlobs(ctx, slices.Concat(keys...))
					return job, res.err
				}
				batch, keys = append(batch, res.item), append(keys, res.keys)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		// A batch whose blobs are stored is committed even when the run is being stopped:
		// then nothing is left half-done, and cancelling stays quick (one batch).
		var err error
		if job, err = r.commit(context.WithoutCancel(ctx), job, batch); err != nil {
			if errors.Is(err, ErrNotFound) {
				// Nothing was committed: the job or its gallery was deleted under the run.
				r.s.deleteBlobs(ctx, slices.Concat(keys...))
			}
			return job, err
		}
		for i, it := range batch {
			if it.Item.State == ItemDuplicate && len(keys[i]) > 0 {
				r.s.deleteBlobs(ctx, keys[i]) // stored meanwhile by another upload: its record keeps its own blobs
			}
		}
		if progress != nil {
			progress(job)
		}
		if job.State != JobRunning || ctx.Err() != nil {
			return job, nil // cancelled or interrupted meanwhile
		}
	}
}

// commit stores one batch and indexes its new faces. The catalog commit comes first: a crash
// before the index has them is repaired by Reconcile at the next start.
func (r *ingestRun) commit(ctx context.Context, job Job, batch []IngestItem) (Job, error) {
	// The job's own fields (search record, spec) are what the catalog needs; counters come back.
	stored, after, err := r.s.cfg.Catalog.CommitIngest(ctx, r.job, batch)
	if err != nil {
		return job, err
	}
	var entries []index.Entry
	for i, it := range batch {
		if it.Item.State != ItemStored {
			continue
		}
		for k, f := range stored[i] {
			if k < len(it.Faces) && it.Faces[k].Vector != nil {
				entries = append(entries, index.Entry{ID: uint64(f.ID), Gallery: uint64(r.gallery.ID), Vector: it.Faces[k].Vector})
			}
		}
	}
	if len(entries) > 0 {
		if err := r.s.cfg.Indexes[r.gallery.Model].Add(ctx, r.gallery.Model, entries); err != nil {
			return after, fmt.Errorf("service: index job %d faces: %w", job.ID, err)
		}
		var placed []ClusterFace
		for i, it := range batch {
			if it.Item.State != ItemStored {
				continue
			}
			for k, f := range stored[i] {
				if k < len(it.Faces) && it.Faces[k].Vector != nil {
					placed = append(placed, ClusterFace{FaceID: f.ID, ImageID: f.ImageID, Vector: it.Faces[k].Vector, Minor: it.Faces[k].Face.Age != nil && it.Faces[k].Face.Age.PossibleMinor})
				}
			}
		}
		r.s.placeFaces(ctx, r.gallery, placed)
	}
	if r.byPerson() {
		var probed []int64
		for i, it := range batch {
			for _, p := range it.Probes {
				if p.Face < len(stored[i]) {
					probed = append(probed, stored[i][p.Face].ID)
				}
			}
		}
		if len(probed) > 0 {
			// The hits are committed: a failure here loses nothing, the job's end groups them.
			if _, err := r.s.matchPersons(ctx, after, probed, false); err != nil {
				r.s.log.Warn("job cross-match not grouped by person yet", "job", job.ID, "faces", len(probed), "err", err)
			}
		}
	}
	return after, nil
}

// byPerson says whether the job's cross-match proposes persons rather than photos: a job into
// a collection, whose faces are placed in suggested persons as they are stored.
func (r *ingestRun) byPerson() bool {
	return len(r.job.Spec.CrossMatch) > 0 && r.gallery.Kind == Collection
}
