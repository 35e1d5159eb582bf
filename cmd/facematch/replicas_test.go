package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the test's own reads of the catalog

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
	"github.com/facematch/facematch/internal/catalog/pgtest"
	"github.com/facematch/facematch/internal/testenv"
)

// Three replicas of the real binary on one real PostgreSQL and one real S3 server (issue 18).

// replicaSet is the replicas and what they share.
type replicaSet struct {
	t    testing.TB
	pg   *pgtest.Server
	dsn  string
	g    *s3test.Gateway
	args [][]string // each replica's arguments (its own data directory)
	env  []string
	svcs []*service
}

func startReplicas(t testing.TB, n int) *replicaSet {
	t.Helper()
	pg := pgtest.Start(t)
	rs := &replicaSet{t: t, pg: pg, dsn: pg.NewDB(t), g: s3test.Start(t)}
	cfg := rs.g.Config("replicas", "")
	rs.env = []string{"FACEMATCH_CATALOG=" + rs.dsn, "FACEMATCH_S3_ACCESS_KEY=" + cfg.AccessKey, "FACEMATCH_S3_SECRET_KEY=" + cfg.SecretKey}
	for range n {
		args := []string{"--data-dir", t.TempDir(), "--blobs", "s3://replicas/fm", "--s3-endpoint", cfg.Endpoint, "--s3-insecure"}
		rs.args = append(rs.args, args)
		rs.svcs = append(rs.svcs, startService(t, args, rs.env))
	}
	t.Cleanup(func() {
		for _, s := range rs.svcs {
			if s.cmd.ProcessState == nil {
				s.cmd.Process.Kill()
				<-s.exited
			}
		}
	})
	return rs
}

var gaugeLine = regexp.MustCompile(`^(facematch_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$`)

// gauges reads a replica's /metrics: name{labels} → value, and name → the sum over its labels.
func gauges(s *service) map[string]float64 {
	resp := s.raw("GET", "/metrics", bootstrap, "", nil)
	out := map[string]float64{}
	if resp.status != 200 {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(resp.body))
	for sc.Scan() {
		if m := gaugeLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]] += v // summed over labels
			if m[2] != "" {
				out[m[1]+m[2]] = v
			}
		}
	}
	return out
}

// writer returns the index of the replica that holds the lease, waiting up to timeout for one.
func (rs *replicaSet) writer(timeout time.Duration) int {
	rs.t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for i, s := range rs.svcs {
			if s.cmd.ProcessState == nil && gauges(s)["facematch_replica_writer"] == 1 {
				return i
			}
		}
	}
	rs.t.Fatalf("no replica holds the writer's lease after %v", timeout)
	return -1
}

// catalogFaces counts the catalog's faces with a vector, with the test's own SQL.
func (rs *replicaSet) catalogFaces() int {
	rs.t.Helper()
	db, err := sql.Open("pgx", rs.dsn)
	if err != nil {
		rs.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM faces WHERE vector IS NOT NULL`).Scan(&n); err != nil {
		rs.t.Fatal(err)
	}
	return n
}

// converged waits until every running replica's index holds exactly the catalog's faces.
func (rs *replicaSet) converged(timeout time.Duration, when string) {
	rs.t.Helper()
	var got []float64
	want := 0
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		want, got = rs.catalogFaces(), nil
		ok := true
		for _, s := range rs.svcs {
			n := gauges(s)["facematch_index_faces"]
			got = append(got, n)
			ok = ok && int(n) == want
		}
		if ok {
			return
		}
	}
	rs.t.Fatalf("%s: the replicas' indexes hold %v faces, the catalog %d", when, got, want)
}

// Enrolment on one replica is searchable on the others; two reviewers decide on two other
// replicas; the match is final everywhere.
func TestReplicasServeOneService(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	rs := startReplicas(t, 3)
	a, b, c := rs.svcs[0], rs.svcs[1], rs.svcs[2]
	tokens := a.tokens()
	var ref idObj
	a.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "wanted", "kind": "reference"}, &ref)
	ph := photos(t, "Katy_Perry")
	var sub idObj
	a.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", ref.ID), tokens["ann"], map[string]string{"name": "Katy Perry"}, &sub)
	enrolled := time.Now()
	a.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ref.ID), tokens["ann"], form(t, ph[0], map[string]string{"subject_id": fmt.Sprint(sub.ID)}), nil)
	var match int64
	for i, s := range []*service{b, c} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var res searchResp
			s.mustCall(201, "POST", "/v1/searches", tokens["ann"], form(t, ph[1+i], map[string]string{"galleries": fmt.Sprint(ref.ID), "purpose": "replicas"}), &res)
			if len(res.Faces) > 0 && len(res.Faces[0].Candidates) > 0 && res.Faces[0].Candidates[0].SubjectID != nil && *res.Faces[0].Candidates[0].SubjectID == sub.ID {
				t.Logf("replica %d found the subject enrolled on replica 0 %v after the enrolment", i+1, time.Since(enrolled))
				if match == 0 {
					match = res.Faces[0].Candidates[0].MatchID
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d does not find the subject enrolled on replica 0 after 10 s", i+1)
			}
		}
	}
	if match == 0 {
		t.Fatal("no pending match for the subject")
	}
	confirm := map[string]string{"decision": "potential_candidate", "note": "same face in both photos"}
	b.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", match), tokens["rev1"], confirm, nil)
	// The same reviewer cannot decide twice, whichever replica he asks.
	if st := c.call("POST", fmt.Sprintf("/v1/matches/%d/decisions", match), tokens["rev1"], confirm, nil); st != 409 {
		t.Fatalf("second decision by the same reviewer on another replica: %d, want 409", st)
	}
	c.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", match), tokens["rev2"], confirm, nil)
	var m struct {
		Status string `json:"status"`
	}
	a.mustCall(200, "GET", fmt.Sprintf("/v1/matches/%d", match), tokens["rev1"], nil, &m)
	if m.Status != "potential_candidate" {
		t.Fatalf("match after two agreeing decisions on two replicas: %q, want potential_candidate", m.Status)
	}
	rs.converged(10*time.Second, "after enrolment")

	// One ingest job, uploaded through one replica, runs on all three: each takes shards of it
	// as its workers free up, every file is stored once, and the job is finished once.
	const files = 60
	lfw := lfwPhotos(t)
	archive := map[string]string{}
	for i := range files {
		archive[fmt.Sprintf("ad%03d.jpg", i)] = data("lfw", lfw[i])
	}
	var ads idObj
	a.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	before := make([]float64, len(rs.svcs))
	for i, s := range rs.svcs {
		before[i] = gauges(s)["facematch_inferences_total"]
	}
	v := runArchiveJob(t, a, tarOf(t, archive), map[string]string{"kind": "ingest", "gallery_id": fmt.Sprint(ads.ID), "purpose": "replicas"})
	if v.State != engine.JobDone || v.Processed != files || v.Stored+v.Duplicates+v.NoFace+v.Failed != files {
		t.Fatalf("job on three replicas: %+v, want done with each of %d files once", v, files)
	}
	var items struct {
		Items []json.RawMessage `json:"items"`
	}
	a.mustCall(200, "GET", fmt.Sprintf("/v1/jobs/%d/items?limit=1000", v.ID), bootstrap, nil, &items)
	if len(items.Items) != files {
		t.Fatalf("job has %d items, want %d", len(items.Items), files)
	}
	var worked []float64
	for i, s := range rs.svcs {
		worked = append(worked, gauges(s)["facematch_inferences_total"]-before[i])
	}
	t.Logf("photos analysed for the job by each replica: %v", worked)
	for i, n := range worked {
		if n == 0 {
			t.Errorf("replica %d analysed none of the job's %d photos", i, files)
		}
	}
	var audit struct {
		Items []json.RawMessage `json:"items"`
	}
	a.mustCall(200, "GET", "/v1/audit?action=job.done&limit=100", tokens["aud"], nil, &audit)
	if len(audit.Items) != 1 {
		t.Errorf("the job was finished %d times, want once", len(audit.Items))
	}
	rs.converged(10*time.Second, "after the job")
}

// The kill campaign on three replicas: clients spread over every replica upload, search,
// decide and delete while one replica (every other round the index writer) is killed with
// SIGKILL. After each restart every acknowledged write and audit entry is there, through every
// replica, and each replica's index holds exactly the catalog's faces. Then PostgreSQL stops
// for 10 s under load: clear 503s with Retry-After, no 500, and recovery without a restart.
func TestReplicasKilledUnderLoad(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	rs := startReplicas(t, 3)
	rounds := killRounds(t)
	tokens, ads, ref, photos, a := kcSetup(t, rs.svcs[0])
	rng := rand.New(rand.NewPCG(18, 3))
	var nextMu sync.Mutex
	next := 1
	takePhoto := func() string {
		nextMu.Lock()
		defer nextMu.Unlock()
		p := photos[next%len(photos)]
		next++
		return p
	}
	// load runs clients over every replica until stop is closed.
	load := func(stop chan struct{}, seed uint64) *sync.WaitGroup {
		var wg sync.WaitGroup
		for c := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(c)))
				s := rs.svcs[c%len(rs.svcs)]
				for {
					select {
					case <-stop:
						return
					default:
					}
					kcStep(s, a, r, tokens, ref.ID, ads.ID, photos, takePhoto)
				}
			}()
		}
		return &wg
	}
	for round := 1; round <= rounds; round++ {
		victim := rng.IntN(len(rs.svcs))
		if round%2 == 1 {
			victim = rs.writer(30 * time.Second)
		}
		stop := make(chan struct{})
		wg := load(stop, uint64(round))
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		v := rs.svcs[victim]
		v.cmd.Process.Kill()
		<-v.exited
		time.Sleep(500 * time.Millisecond) // the others go on alone for a moment
		close(stop)
		wg.Wait()
		v.start()
		for i, s := range rs.svcs {
			verifyAcked(t, s, a, tokens["aud"], tokens["rev1"], round*10+i)
		}
		rs.converged(30*time.Second, fmt.Sprintf("round %d (replica %d killed)", round, victim))
	}
	t.Logf("%d kills; acknowledged %d uploads, %d deletions, %d searches, %d decisions; statuses %v",
		rounds, len(a.uploads), len(a.deleted), len(a.searches), len(a.decisions), a.counts)

	// PostgreSQL stops for 10 s under load.
	a.counts = map[string]int{}
	stop := make(chan struct{})
	wg := load(stop, 99)
	time.Sleep(time.Second)
	rs.pg.Stop()
	down := time.Now()
	time.Sleep(5 * time.Second)
	f := photoForm(t, takePhoto(), nil)
	for i, s := range rs.svcs {
		resp := s.raw("POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data)
		if resp.status != 503 || resp.header.Get("Retry-After") == "" {
			t.Errorf("replica %d: upload while PostgreSQL is down: %d %q (Retry-After %q), want 503 with Retry-After", i, resp.status, resp.body, resp.header.Get("Retry-After"))
		}
	}
	time.Sleep(10*time.Second - time.Since(down))
	if err := rs.pg.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	for i, s := range rs.svcs {
		for {
			f := photoForm(t, takePhoto(), nil)
			st := kcCall(s, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data, nil)
			if st == 201 || st == 200 {
				t.Logf("replica %d accepts uploads again %v after PostgreSQL came back", i, time.Since(up))
				break
			}
			if time.Since(up) > 30*time.Second {
				t.Fatalf("replica %d still answers %d 30 s after PostgreSQL came back", i, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("statuses around the PostgreSQL outage: %v", a.counts)
	for k, n := range a.counts {
		if strings.HasSuffix(k, " 500") {
			t.Errorf("%d answers %q during the outage: an outage is 503, never 500", n, k)
		}
	}
	for i, s := range rs.svcs {
		verifyAcked(t, s, a, tokens["aud"], tokens["rev1"], 1000+i)
	}
	rs.converged(30*time.Second, "after the PostgreSQL outage")

	// Stopped cleanly, swept: no object is left that no record references, and the audit
	// chain holds.
	for _, s := range rs.svcs {
		s.stop()
	}
	env := append([]string{"FACEMATCH_ASSETS=" + testenv.Assets()}, rs.env...)
	cmd := exec.Command(buildBinary(t), append([]string{"sweep", "--grace", "0s"}, rs.args[0]...)...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("facematch sweep: %v\n%s", err, out)
	}
	vs, err := rs.g.Versions(context.Background(), "replicas", "fm/")
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = strings.TrimPrefix(v.Key, "fm/")
	}
	db, err := sql.Open("pgx", rs.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if left := unreferencedIn(db, keys); len(left) != 0 {
		sort.Strings(left)
		t.Fatalf("%d unreferenced objects after the sweep: %v", len(left), left)
	}
	cmd = exec.Command(buildBinary(t), "audit", "verify") // FACEMATCH_CATALOG names the catalog
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	t.Logf("audit verify: %s", strings.TrimSpace(string(out)))
}
