package replica_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
	"github.com/facematch/facematch/internal/blob"
	"github.com/facematch/facematch/internal/blob/s3"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
	"github.com/facematch/facematch/internal/catalog"
	"github.com/facematch/facematch/internal/catalog/pgtest"
	"github.com/facematch/facematch/internal/replica"
)

const (
	model = "test-model@0123456789ab"
	dim   = 32
)

// cluster is three replicas in one test process, each with its own catalog handle (its own
// connection pool, as a process would have) and its own local directory, on one real
// PostgreSQL and one real S3 server.
type cluster struct {
	t       testing.TB
	dsn     string
	store   blob.Store
	nodes   []*node
	gallery int64
	photos  int // photos stored, for their distinct hashes
}

type node struct {
	name string
	dir  string
	db   *catalog.DB
	n    *replica.Node
}

func newCluster(t testing.TB, replicas int) *cluster {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.Start(t).NewDB(t)
	g := s3test.Start(t)
	store, err := s3.Open(ctx, g.Config("replicas", "fm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx, false); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dsn: dsn, store: store}
	for i := range replicas {
		c.nodes = append(c.nodes, c.start(fmt.Sprintf("n%d", i)))
	}
	gallery, err := c.nodes[0].db.CreateGallery(ctx, engine.Gallery{Name: "ads", Kind: engine.Collection, Model: model, CreatedAt: time.Now(), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c.gallery = gallery.ID
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.n != nil {
				n.n.Close()
				n.db.Close()
			}
		}
	})
	return c
}

// start starts a replica named name on a fresh local directory.
func (c *cluster) start(name string) *node {
	c.t.Helper()
	ctx := context.Background()
	db, err := catalog.Open(ctx, c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	dir := c.t.TempDir()
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(ctx context.Context, follower bool) (*index.Index, error) {
		role := "writer"
		if follower {
			role = "follower"
		}
		return index.Open(ctx, index.Config{Dir: filepath.Join(dir, role), Store: c.store, Prefix: "index/test",
			Model: model, Dim: dim, SegmentSize: 40, Graph: index.HNSWGraph(graph.Config{}), Quantized: true,
			CompactAfter: 100 * time.Millisecond, SharedLog: true, Follower: follower, Logger: lg})
	}
	n, err := replica.Start(ctx, replica.Config{DSN: c.dsn, Log: db, Indexes: map[string]replica.OpenIndex{model: open},
		Poll: 100 * time.Millisecond, RefreshEvery: 500 * time.Millisecond, Logger: lg.With("node", name)})
	if err != nil {
		c.t.Fatal(err)
	}
	return &node{name: name, dir: dir, db: db, n: n}
}

// enrol stores a photo of one face with vector v through the replica's catalog, as an upload
// does, then gives it to the replica's index as the engine does, and returns the face's ID and
// the photo's.
func (c *cluster) enrol(via *node, v []float32) (face uint64, photo int64) {
	c.t.Helper()
	ctx := context.Background()
	c.photos++
	sha := fmt.Sprintf("%064x", c.photos)
	img, faces, err := via.db.AddImage(ctx, engine.Image{GalleryID: c.gallery, SHA256: sha, Format: "jpeg", BlobKey: "images/" + sha,
		CreatedAt: time.Now()}, []engine.NewFace{{Face: engine.StoredFace{Box: engine.Box{W: 40, H: 40}, Model: model}, Vector: v}})
	if err != nil {
		c.t.Fatal(err)
	}
	id := uint64(faces[0].ID)
	if err := via.n.Index(model).Add(ctx, model, []index.Entry{{ID: id, Gallery: uint64(c.gallery), Vector: v}}); err != nil {
		c.t.Fatal(err)
	}
	return id, img.ID
}

// stop closes a replica (its lease connection with it).
func (c *cluster) stop(n *node) {
	c.t.Helper()
	if err := n.n.Close(); err != nil {
		c.t.Errorf("closing %s: %v", n.name, err)
	}
	n.db.Close()
	n.n = nil
}

// writer waits up to timeout for exactly one running replica to hold the lease.
func (c *cluster) writer(timeout time.Duration) *node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var ws []*node
		for _, n := range c.nodes {
			if n.n == nil {
				continue
			}
			if w, _ := n.n.Writer(); w {
				ws = append(ws, n)
			}
		}
		if len(ws) > 1 {
			c.t.Fatalf("%d writers at once", len(ws))
		}
		if len(ws) == 1 {
			return ws[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no writer after %v", timeout)
	return nil
}

func vec(r *rand.Rand) []float32 {
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		norm += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(norm))
	}
	return v
}

// finds reports whether the replica's index answers the vector's own face first.
func finds(t testing.TB, n *node, id uint64, v []float32) bool {
	t.Helper()
	hits, err := n.n.Index(model).Search(context.Background(), model, v, 1, index.Filter{})
	if err != nil {
		t.Fatalf("%s: search: %v", n.name, err)
	}
	return len(hits) == 1 && hits[0].ID == id
}

// waitFinds waits until every running replica finds (or, with want false, no longer finds)
// the face, and returns how long the slowest took.
func (c *cluster) waitFinds(id uint64, v []float32, want bool, timeout time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for _, n := range c.nodes {
		if n.n == nil {
			continue
		}
		for finds(c.t, n, id, v) != want {
			if time.Since(start) > timeout {
				c.t.Fatalf("%s: face %d found=%v after %v, want %v", n.name, id, !want, timeout, want)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return time.Since(start)
}

// A face added through one replica is found at once there and within the poll on the others;
// a deletion through another replica reaches all; the writer's manifests reach the followers
// and the log they cover is trimmed.
func TestReplicasShareTheIndex(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	w := c.writer(10 * time.Second)
	r := rand.New(rand.NewPCG(1, 2))
	vs := map[uint64][]float32{}
	photoOf := map[uint64]int64{}
	var delays []time.Duration
	for i := range 100 {
		v := vec(r)
		via := c.nodes[i%3]
		id, photo := c.enrol(via, v)
		vs[id], photoOf[id] = v, photo
		if !finds(t, via, id, vs[id]) {
			t.Fatalf("%s does not find face %d it added", via.name, id)
		}
		delays = append(delays, c.waitFinds(id, vs[id], true, 5*time.Second))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("propagation to every replica: p50 %v, max %v", delays[len(delays)/2], delays[len(delays)-1])

	// The writer checkpoints (100 faces at a segment size of 40: two sealed segments and the
	// growing one), announces the manifest and trims the log it covers.
	if err := w.n.Index(model).Index().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ops, err := w.db.IndexLogAfter(ctx, model, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log still holds %d operations after the writer's checkpoint", len(ops))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range c.nodes {
		deadline := time.Now().Add(5 * time.Second)
		for n.n.Index(model).Index().Stats().Segments == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s loaded no segment of the writer's manifest", n.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for id, v := range vs {
		c.waitFinds(id, v, true, time.Second)
	}

	// Deletions through a follower reach every replica, and forget the vectors in the log.
	var follower *node
	for _, n := range c.nodes {
		if n != w {
			follower = n
		}
	}
	var gone []uint64
	for id := range vs {
		if len(gone) < 2 {
			gone = append(gone, id)
		}
	}
	// Two more faces, still in the log (not yet in a manifest), are deleted too.
	for range 2 {
		v := vec(r)
		id, photo := c.enrol(w, v)
		vs[id], photoOf[id] = v, photo
		gone = append(gone, id)
	}
	for _, id := range gone {
		purge, err := follower.db.DeleteImage(ctx, photoOf[id])
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint64
		for _, f := range purge.FaceIDs[model] {
			ids = append(ids, uint64(f))
		}
		if _, err := follower.n.Index(model).DeleteBatch(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range gone {
		c.waitFinds(id, vs[id], false, 5*time.Second)
	}
	ops, err := w.db.IndexLogAfter(ctx, model, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if len(o.Vector) > 0 && slices.Contains(gone, uint64(o.FaceID)) {
			t.Fatalf("the log still holds deleted face %d's vector", o.FaceID)
		}
	}
}

// When the writer stops, another replica takes the lease within a few polls and goes on from
// the log; a replica started afterwards on an empty directory catches up from the manifest and
// the log.
func TestWriterFailover(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	w := c.writer(10 * time.Second)
	r := rand.New(rand.NewPCG(3, 4))
	vs := map[uint64][]float32{}
	add := func(via *node, from, to int) {
		for range to - from {
			v := vec(r)
			id, _ := c.enrol(via, v)
			vs[id] = v
		}
	}
	add(w, 1, 60)
	start := time.Now()
	c.stop(w)
	w2 := c.writer(10 * time.Second)
	t.Logf("failover: %s took the lease %v after %s stopped", w2.name, time.Since(start), w.name)
	add(w2, 60, 120)
	var other *node
	for _, n := range c.nodes {
		if n.n != nil && n != w2 {
			other = n
		}
	}
	add(other, 120, 150)
	if err := w2.n.Index(model).Index().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	late := c.start("late")
	c.nodes = append(c.nodes, late)
	for id, v := range vs {
		c.waitFinds(id, v, true, 5*time.Second)
	}
	if got := late.n.Index(model).Index().Stats().Faces; got != len(vs) {
		t.Fatalf("the late replica holds %d faces, want %d", got, len(vs))
	}
}
