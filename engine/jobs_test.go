package engine_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/face/facetest"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/engineblob"
	"github.com/facematch/facematch/internal/blob/local"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/source"
)

// Batch jobs on the real parts (SQLite, local blobs, the index, a directory source with
// hostile files beside the photos) and face/facetest's models: the rules of jobs, not the
// models' accuracy, are under test.

type anyPath struct{}

func (anyPath) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	return source.Open(ctx, spec, source.Options{})
}

// uploadsOrPaths opens archives uploaded with a job ("upload:KEY" in the blob store), as the
// service's own opener does, and any other path or prefix.
type uploadsOrPaths struct {
	blobs  objectStore
	tmpDir string
}

func (o uploadsOrPaths) OpenSource(ctx context.Context, spec string) (engine.JobSource, error) {
	if key, ok := strings.CutPrefix(spec, "upload:"); ok {
		if err := os.MkdirAll(o.tmpDir, 0o700); err != nil {
			return nil, err
		}
		return source.Archive(ctx, func(ctx context.Context) (io.ReadCloser, error) { return o.blobs.Get(ctx, key) }, o.tmpDir)
	}
	return anyPath{}.OpenSource(ctx, spec)
}

type jobFixture struct {
	svc     *engine.Service
	cat     *catalog.DB
	blobs   *local.Store
	indexes map[string]*index.Index // by model identity
}

// defaultModel names a fixture's default pipeline: galleries created without a model use it.
const defaultModel = "default"

// secondModel is another fake model (other vectors, another dimension), a reprocessing target.
var secondModel = facetest.Embedder{Name: "b", Dimensions: 32}

// fakePipeline runs face/facetest's detector and embedder: faces drawn by facetest.Photo and
// facetest.Group, found and embedded without models.
func fakePipeline() *engine.Pipeline {
	return &engine.Pipeline{Detector: facetest.Detector{}, Embedder: facetest.Embedder{}}
}

// only is the pipelines of a fixture with one model, the default.
func only(p *engine.Pipeline) map[string]*engine.Pipeline {
	return map[string]*engine.Pipeline{defaultModel: p}
}

// fakeMatchLine is a cross-match threshold for the fake models, which have no measured bands:
// two photos of one fake person score about 0.89, two people about 0.
const fakeMatchLine = 0.6

// newJobFixture runs the fake default model and secondModel (pipeline "second") on one data
// directory.
func newJobFixture(t *testing.T, dir string) *jobFixture {
	t.Helper()
	return openFixture(t, dir, map[string]*engine.Pipeline{defaultModel: fakePipeline(),
		"second": {Detector: facetest.Detector{}, Embedder: secondModel}})
}

// openFixture runs the service on pipes (default defaultModel) over SQLite, local blobs and
// one index per model in dir, reconciled as at a start.
func openFixture(t *testing.T, dir string, pipes map[string]*engine.Pipeline) *jobFixture {
	t.Helper()
	blobs, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := openFixtureOn(t, dir, pipes, blobs)
	f.blobs = blobs
	return f
}

// objectStore is what the fixture keeps blobs and index segments in: the local store, the S3
// store, or a wrapper over one of them. The service sees it through engineblob, as in
// cmd/facematch.
type objectStore = blob.Store

// openFixtureOn is openFixture with the blobs and the index segments in store.
func openFixtureOn(t *testing.T, dir string, pipes map[string]*engine.Pipeline, store objectStore) *jobFixture {
	t.Helper()
	return openFixtureAt(t, dir, filepath.Join(dir, "meta.db"), pipes, store)
}

// openFixtureAt is openFixtureOn with the catalog at catalogAt (a SQLite path or a PostgreSQL
// URL).
func openFixtureAt(t *testing.T, dir, catalogAt string, pipes map[string]*engine.Pipeline, store objectStore) *jobFixture {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, catalogAt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	blobs := store
	f := &jobFixture{cat: cat, indexes: map[string]*index.Index{}}
	vecs := map[string]engine.VectorIndex{}
	for name, p := range pipes {
		model := p.Embedder.Identity()
		ix, err := index.Open(ctx, index.Config{Dir: filepath.Join(dir, "wal", name), Store: blobs, Prefix: "index/" + name,
			Model: model, Dim: p.Embedder.Dim()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		f.indexes[model], vecs[model] = ix, ix
	}
	f.svc, err = engine.NewService(engine.ServiceConfig{Catalog: cat, Blobs: engineblob.Store{Blobs: blobs}, Pipelines: pipes, DefaultModel: defaultModel,
		// Commits of 4 files: an 11-file job takes several, so a test can interrupt it part-way.
		Indexes: vecs, Sources: uploadsOrPaths{blobs: blobs, tmpDir: filepath.Join(dir, "tmp")}, JobWorkers: 2, JobCommitBatch: 4,
		Meta: func(r io.Reader, format string) (engine.MetaLookup, error) { return source.ReadMeta(r, format) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Reconcile(ctx, func(model string) map[uint64]bool {
		have := map[uint64]bool{}
		f.indexes[model].ForEach(func(id, _ uint64, _ []float32) { have[id] = true })
		return have
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// enrolReferences enrols a photo (variant 1) of each fake person as a reference subject and
// returns the gallery and the subjects' names by ID.
func (f *jobFixture) enrolReferences(t *testing.T, people map[string]int) (int64, map[int64]string) {
	t.Helper()
	g, err := f.svc.CreateGallery(ctx(), admin, "wanted", engine.Reference, "")
	if err != nil {
		t.Fatal(err)
	}
	names := map[int64]string{}
	for name, person := range people {
		s, err := f.svc.CreateSubject(ctx(), admin, engine.Subject{GalleryID: g.ID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddImage(ctx(), admin, engine.Upload{GalleryID: g.ID, SubjectID: &s.ID, Data: facetest.Photo(person, 1)}); err != nil {
			t.Fatal(err)
		}
		names[s.ID] = name
	}
	return g.ID, names
}

// references are three fake people, by name.
var references = map[string]int{"Ada": 73, "Ben": 146, "Cleo": 292}

// adSource writes a collection source: other photos of the reference people, one of them twice,
// a photo without a face, and hostile files; it returns the directory and the person each
// good photo shows.
func adSource(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for _, ad := range []struct {
		file, person string
		variant      int
	}{{"ads/ada_2.png", "Ada", 2}, {"ads/ada_3.png", "Ada", 3}, {"ads/ben_2.png", "Ben", 2}, {"ads/ben_3.png", "Ben", 3}, {"ads/cleo_2.png", "Cleo", 2}} {
		write(ad.file, facetest.Photo(references[ad.person], ad.variant))
		want[ad.file] = ad.person
	}
	write("ads/repost_of_ben.png", facetest.Photo(references["Ben"], 2)) // a copy of ads/ben_2.png
	want["ads/repost_of_ben.png"] = "Ben"
	write("ads/empty_room.png", facetest.Group(1, 0))
	good := facetest.Photo(references["Cleo"], 1)
	write("bad/truncated.jpg", good[:len(good)/3])
	write("bad/text.jpg", []byte("<html>not a photo</html>"))
	write("bad/empty.png", nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "bad", "passwd.jpg")); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// outcome is what a job left, in a form two runs can be compared by. A photo is known by its
// content, not by its file's name: which of two identical files is stored and which is its
// duplicate is a race between the job's workers.
type outcome struct {
	items   map[string][]engine.JobItemState // by file name, or by "photo SHA-256" for files with an image
	faces   int
	matches []string // "person's photos → candidate subject" pairs
	// persons is the sizes of the collection's suggested persons, largest first, and unplaced
	// the searchable faces in none: a job places every face it adds.
	persons  []int
	unplaced int
}

func outcomeOf(t *testing.T, f *jobFixture, collection int64, jobIDs ...int64) outcome {
	t.Helper()
	firstItems := map[string]engine.JobItem{} // the first job's item of each file
	for _, id := range jobIDs {
		items, err := f.svc.JobItems(ctx(), admin, id, "", "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if _, seen := firstItems[it.Name]; !seen {
				firstItems[it.Name] = it
			}
		}
	}
	o := outcome{items: map[string][]engine.JobItemState{}}
	photoKey := map[int64]string{} // image ID → "photo SHA-256"
	for name, it := range firstItems {
		key := name
		if it.ImageID != nil {
			img, err := f.cat.Image(ctx(), *it.ImageID)
			if err != nil {
				t.Fatal(err)
			}
			key = "photo " + img.SHA256
			photoKey[img.ID] = key
		}
		o.items[key] = append(o.items[key], it.State)
		slices.Sort(o.items[key])
	}
	g, err := f.cat.Gallery(ctx(), collection)
	if err != nil {
		t.Fatal(err)
	}
	o.faces = g.Faces
	ps, err := f.cat.Persons(ctx(), collection, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		o.persons = append(o.persons, len(p.Faces))
	}
	slices.SortFunc(o.persons, func(a, b int) int { return b - a })
	left, err := f.cat.UnassignedFaces(ctx(), collection, g.Model, 1000)
	if err != nil {
		t.Fatal(err)
	}
	o.unplaced = len(left)
	ms, err := f.cat.Matches(ctx(), engine.MatchFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.JobID == nil {
			continue
		}
		// An item is one person's against one subject: known by the photos behind it (which
		// of them is the probe depends on which batch saw the best pair first).
		support, err := f.cat.MatchSupport(ctx(), m.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var photos []string
		for _, s := range support {
			photos = append(photos, photoKey[s.ImageID])
		}
		if len(photos) == 0 {
			t.Errorf("job item %d has no photo behind it", m.ID)
		}
		sort.Strings(photos)
		photos = slices.Compact(photos) // a later job's run over the same photos adds its hits
		cand := strconv.FormatInt(m.FaceID, 10)
		if m.SubjectID != nil { // runs enrol the same people under other IDs
			s, err := f.cat.Subject(ctx(), *m.SubjectID)
			if err != nil {
				t.Fatal(err)
			}
			cand = s.Name
		}
		o.matches = append(o.matches, strings.Join(photos, "+")+" → "+cand)
	}
	sort.Strings(o.matches)
	return o
}

func TestIngestJobCrossMatchesAndListsBadFiles(t *testing.T) {
	f := newJobFixture(t, t.TempDir())
	refs, subjects := f.enrolReferences(t, references)
	coll, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	dir, want := adSource(t)
	meta := "file,site,phones,posted_at\nads/ada_2.png,example-ads,+44 7700 900123,2026-10-01\n"
	j, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Meta: []byte(meta),
		// No min_similarity: each reference gallery's operating threshold decides, as for a search.
		Spec: engine.JobSpec{Source: dir, MetaFormat: "csv", CrossMatch: []int64{refs}, Purpose: "case 7"}})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	j, err = f.svc.RunJob(ctx(), j.ID, func(j engine.Job) { seen = append(seen, j.Processed) })
	if err != nil {
		t.Fatal(err)
	}
	if j.State != engine.JobDone || j.Total != 11 || j.Processed != 11 || j.Stored != 5 || j.Duplicates != 1 || j.NoFace != 1 || j.Failed != 4 {
		t.Fatalf("job = %+v, want done, 11 files: 5 stored, 1 duplicate, 1 without a face, 4 failed", j)
	}
	if len(seen) == 0 || seen[len(seen)-1] != 11 {
		t.Errorf("progress = %v, want it to end at 11", seen)
	}
	failed, err := f.svc.JobItems(ctx(), admin, j.ID, engine.ItemFailed, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := map[string]string{"bad/truncated.jpg": "truncated", "bad/text.jpg": "not an image", "bad/empty.png": "empty", "bad/passwd.jpg": "symbolic link"}
	for _, it := range failed {
		if w := wantReasons[it.Name]; w == "" || !strings.Contains(it.Reason, w) {
			t.Errorf("failed %s: reason %q, want it to mention %q", it.Name, it.Reason, w)
		}
		delete(wantReasons, it.Name)
	}
	if len(wantReasons) > 0 {
		t.Errorf("not listed as failed: %v", wantReasons)
	}

	// Every person in the ads is proposed once against its own reference subject, first, with
	// each of its photos behind that one item (not an item per photo); the creator of the job
	// may not review its items.
	stored, err := f.svc.JobItems(ctx(), admin, j.ID, engine.ItemStored, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	storedFile := map[int64]string{} // image ID → file
	for _, it := range stored {
		storedFile[*it.ImageID] = it.Name
	}
	ms, err := f.cat.Matches(ctx(), engine.MatchFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]string{}  // file → the subject of its person's first item
	items := map[[2]int64]int{} // (person, subject) → items
	jobItems := 0
	for _, m := range ms {
		if m.JobID == nil || *m.JobID != j.ID || m.SearchID == nil || *m.SearchID != *j.SearchID {
			continue
		}
		jobItems++
		if m.PersonID == nil || m.SubjectID == nil {
			t.Fatalf("job item %d: person %v, subject %v; want both", m.ID, m.PersonID, m.SubjectID)
		}
		items[[2]int64{*m.PersonID, *m.SubjectID}]++
		support, err := f.cat.MatchSupport(ctx(), m.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		probe := probeFaceOf(t, f, m)
		best := false
		for _, s := range support {
			if m.Rank == 1 {
				top[storedFile[s.ImageID]] = subjects[*m.SubjectID]
			}
			best = best || (s.FaceID == probe && s.Similarity == m.Similarity)
			if s.Similarity > m.Similarity {
				t.Errorf("item %d (%.3f) stands for a pair that scored higher (%.3f)", m.ID, m.Similarity, s.Similarity)
			}
		}
		if !best {
			t.Errorf("item %d: its probe face %d is not the best pair behind it %+v", m.ID, probe, support)
		}
		if _, err := f.svc.Decide(ctx(), engine.Actor{Name: admin.Name, Role: engine.RoleReviewer}, m.ID, engine.NoCandidate, ""); !errors.Is(err, engine.ErrForbidden) {
			t.Errorf("the job's creator decided its match %d: err = %v, want ErrForbidden", m.ID, err)
		}
	}
	for pair, n := range items {
		if n != 1 {
			t.Errorf("person %d against subject %d: %d items, want 1", pair[0], pair[1], n)
		}
	}
	if jobItems != j.Matches || jobItems >= len(stored) {
		t.Errorf("%d items for %d stored photos, the job counts %d: want fewer items than photos, counted", jobItems, len(stored), j.Matches)
	}
	for _, it := range stored {
		if person := want[it.Name]; person == "" || top[it.Name] != person {
			t.Errorf("%s: top candidate %q, want %q", it.Name, top[it.Name], person)
		}
	}
	// The sidecar's metadata is on the image, phones normalised.
	img, err := f.cat.Image(ctx(), itemImage(t, f, j.ID, "ads/ada_2.png"))
	if err != nil {
		t.Fatal(err)
	}
	if img.Source.Site != "example-ads" || len(img.Source.Phones) != 1 || img.Source.Phones[0] != "+447700900123" || img.Source.PostedAt == nil || img.OriginJobID == nil {
		t.Errorf("source = %+v, job %v: want the sidecar's site, E.164 phone, date and the job", img.Source, img.OriginJobID)
	}

	// Running the same job again stores nothing twice and proposes nothing twice.
	o := outcomeOf(t, f, coll.ID, j.ID)
	again, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID,
		Spec: engine.JobSpec{Source: dir, CrossMatch: []int64{refs}, MinSim: fakeMatchLine, Purpose: "case 7, again"}})
	if err != nil {
		t.Fatal(err)
	}
	if again, err = f.svc.RunJob(ctx(), again.ID, nil); err != nil {
		t.Fatal(err)
	}
	if again.Stored != 0 || again.Duplicates != 6 || again.Matches != 0 {
		t.Errorf("second run = %+v, want 0 stored, 6 duplicates, 0 new matches", again)
	}
	if o2 := outcomeOf(t, f, coll.ID, j.ID, again.ID); o2.faces != o.faces || strings.Join(o2.matches, ";") != strings.Join(o.matches, ";") {
		t.Errorf("after the second run: %d faces, matches %v; want %d, %v", o2.faces, o2.matches, o.faces, o.matches)
	}

	// Deleting the photo of Ada's item's best pair deletes that item; her other photo is
	// proposed in its place.
	adaItem := func() *engine.Match {
		ms, err := f.cat.Matches(ctx(), engine.MatchFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.JobID != nil && *m.JobID == j.ID && m.SubjectID != nil && subjects[*m.SubjectID] == "Ada" {
				return &m
			}
		}
		return nil
	}
	before := adaItem()
	if before == nil {
		t.Fatal("no item for Ada")
	}
	gone, err := f.cat.Face(ctx(), probeFaceOf(t, f, *before))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteImage(ctx(), admin, gone.ImageID); err != nil {
		t.Fatal(err)
	}
	after := adaItem()
	if after == nil || after.ID == before.ID {
		t.Fatalf("after deleting the photo of Ada's item: %+v, want a new item", after)
	}
	if p := probeFaceOf(t, f, *after); p == gone.ID || after.PersonID == nil || *after.PersonID != *before.PersonID {
		t.Errorf("Ada's new item: probe face %d (deleted %d), person %v (was %v)", p, gone.ID, after.PersonID, before.PersonID)
	}
}

// An interrupted run (the context ends, as at a shutdown), then a cancelled one, each resumed,
// end in the same state as one uninterrupted run.
func TestIngestJobResumesToTheSameState(t *testing.T) {
	dir, _ := adSource(t)
	run := func(interrupt bool) outcome {
		f := newJobFixture(t, t.TempDir())
		refs, _ := f.enrolReferences(t, references)
		coll, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
		if err != nil {
			t.Fatal(err)
		}
		j, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID,
			Spec: engine.JobSpec{Source: dir, CrossMatch: []int64{refs}, MinSim: fakeMatchLine, Purpose: "case 7"}})
		if err != nil {
			t.Fatal(err)
		}
		if interrupt {
			c, stop := context.WithCancel(ctx())
			j, _ = f.svc.RunJob(c, j.ID, func(engine.Job) { stop() })
			stop()
			if j.State != engine.JobRunning || j.Processed == 0 || j.Processed == j.Total {
				t.Fatalf("interrupted job = %s with %d of %d files, want running part-way", j.State, j.Processed, j.Total)
			}
			j, _ = f.svc.RunJob(ctx(), j.ID, func(engine.Job) {
				if _, err := f.svc.CancelJob(ctx(), admin, j.ID); err != nil && !errors.Is(err, engine.ErrConflict) {
					t.Error(err)
				}
			})
			if j.State != engine.JobCancelled {
				t.Fatalf("cancelled job = %s, want cancelled", j.State)
			}
			if _, err := f.svc.ResumeJob(ctx(), admin, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		if j, err = f.svc.RunJob(ctx(), j.ID, nil); err != nil || j.State != engine.JobDone {
			t.Fatalf("job = %s, %v; want done", j.State, err)
		}
		return outcomeOf(t, f, coll.ID, j.ID)
	}
	straight, resumed := run(false), run(true)
	if straight.unplaced != 0 || resumed.unplaced != 0 || len(straight.persons) == 0 || !slices.Equal(straight.persons, resumed.persons) {
		t.Errorf("persons the job made: straight %v (%d faces in none), resumed %v (%d in none); want the same, every face placed",
			straight.persons, straight.unplaced, resumed.persons, resumed.unplaced)
	}
	if len(straight.items) != len(resumed.items) || straight.faces != resumed.faces ||
		strings.Join(straight.matches, ";") != strings.Join(resumed.matches, ";") {
		t.Fatalf("resumed run differs:\n straight %+v\n resumed  %+v", straight, resumed)
	}
	for name, st := range straight.items {
		if !slices.Equal(resumed.items[name], st) {
			t.Errorf("%s: %s after resuming, %s straight", name, resumed.items[name], st)
		}
	}
}

func TestReprocessSwitchesModelsWithoutMixingThem(t *testing.T) {
	f := newJobFixture(t, t.TempDir())
	refs, subjects := f.enrolReferences(t, references)
	g, err := f.cat.Gallery(ctx(), refs)
	if err != nil {
		t.Fatal(err)
	}
	old := g.Model
	target := secondModel.Identity()
	if _, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.ReprocessJob, GalleryID: refs,
		Spec: engine.JobSpec{Model: "nonesuch", Purpose: "upgrade"}}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("unknown model: err = %v, want ErrInvalid", err)
	}
	j, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.ReprocessJob, GalleryID: refs,
		Spec: engine.JobSpec{Model: "second", Purpose: "upgrade"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.ReprocessJob, GalleryID: refs,
		Spec: engine.JobSpec{Model: "second", Purpose: "twice"}}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("second reprocess job: err = %v, want ErrConflict", err)
	}
	faces := g.Faces
	syncs := f.indexes[old].Stats().WALSyncs
	if j, err = f.svc.RunJob(ctx(), j.ID, nil); err != nil || j.State != engine.JobDone || j.Faces != faces {
		t.Fatalf("job = %+v, %v; want done with %d faces re-embedded", j, err, faces)
	}
	// The purge of the old vectors is one batch: one WAL fsync for all of them.
	if n := f.indexes[old].Stats().WALSyncs - syncs; faces < 2 || n != 1 {
		t.Errorf("purging %d old vectors took %d WAL fsyncs, want 1", faces, n)
	}
	if g, _ = f.cat.Gallery(ctx(), refs); g.Model != target {
		t.Fatalf("gallery model = %s, want %s", g.Model, target)
	}
	if n := f.indexes[old].Len(); n != 0 {
		t.Errorf("old index still holds %d vectors", n)
	}
	if n := f.indexes[target].Len(); n != faces {
		t.Errorf("new index holds %d vectors, want %d", n, faces)
	}
	// Searches now embed with the new model and still find the right people.
	res, err := f.svc.Search(ctx(), analyst, engine.SearchRequest{Galleries: []int64{refs}, Purpose: "check", Data: facetest.Photo(references["Cleo"], 2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Faces) == 0 || len(res.Faces[0].Candidates) == 0 || subjects[*res.Faces[0].Candidates[0].SubjectID] != "Cleo" {
		t.Fatalf("search after the switch = %+v, want Cleo first", res.Faces)
	}
	// A collection on the old model can no longer be cross-matched with the gallery.
	coll, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := adSource(t)
	if _, err := f.svc.CreateJob(ctx(), admin, engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID,
		Spec: engine.JobSpec{Source: dir, CrossMatch: []int64{refs}, MinSim: fakeMatchLine, Purpose: "x"}}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("cross-match across models: err = %v, want ErrConflict", err)
	}
}

func TestCreateJobRefusesBadRequests(t *testing.T) {
	f := newJobFixture(t, t.TempDir())
	refs, _ := f.enrolReferences(t, map[string]int{"Cleo": references["Cleo"]})
	coll, err := f.svc.CreateGallery(ctx(), admin, "ads", engine.Collection, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		req  engine.JobRequest
		want error
		msg  string
	}{
		{"no purpose", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Source: dir}}, engine.ErrInvalid, "purpose"},
		{"unknown kind", engine.JobRequest{Kind: "rebuild", GalleryID: coll.ID, Spec: engine.JobSpec{Purpose: "p"}}, engine.ErrInvalid, "kind"},
		{"unknown gallery", engine.JobRequest{Kind: engine.IngestJob, GalleryID: 999, Spec: engine.JobSpec{Source: dir, Purpose: "p"}}, engine.ErrNotFound, "999"},
		{"into a reference gallery", engine.JobRequest{Kind: engine.IngestJob, GalleryID: refs, Spec: engine.JobSpec{Source: dir, Purpose: "p"}}, engine.ErrInvalid, "reference"},
		{"no source", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Purpose: "p"}}, engine.ErrInvalid, "source"},
		{"missing source", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Source: dir + "/nope", Purpose: "p"}}, engine.ErrInvalid, "no such file"},
		{"cross-match a collection", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Source: dir, Purpose: "p", CrossMatch: []int64{coll.ID}}}, engine.ErrInvalid, "not a reference"},
		{"threshold out of range", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Source: dir, Purpose: "p", CrossMatch: []int64{refs}, MinSim: 1.5}}, engine.ErrInvalid, "min_similarity must be"},
		{"bad sidecar", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Meta: []byte("file,colour\na.jpg,red\n"), Spec: engine.JobSpec{Source: dir, Purpose: "p", MetaFormat: "csv"}}, engine.ErrInvalid, "colour"},
		{"k too large", engine.JobRequest{Kind: engine.IngestJob, GalleryID: coll.ID, Spec: engine.JobSpec{Source: dir, Purpose: "p", K: 1000}}, engine.ErrInvalid, "k must"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateJob(ctx(), admin, tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	if js, _ := f.svc.Jobs(ctx(), admin, engine.JobFilter{}); len(js) != 0 {
		t.Errorf("refused requests left %d jobs", len(js))
	}
}

func probeFaceOf(t *testing.T, f *jobFixture, m engine.Match) int64 {
	t.Helper()
	p, err := f.cat.ProbeFace(ctx(), m.ProbeFaceID)
	if err != nil {
		t.Fatal(err)
	}
	if p.FaceID == nil {
		t.Fatalf("match %d of a job: its probe %d is no stored face", m.ID, p.ID)
	}
	return *p.FaceID
}

func itemImage(t *testing.T, f *jobFixture, jobID int64, name string) int64 {
	t.Helper()
	items, err := f.svc.JobItems(ctx(), admin, jobID, "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Name == name && it.ImageID != nil {
			return *it.ImageID
		}
	}
	t.Fatalf("job %d has no image for %s", jobID, name)
	return 0
}
