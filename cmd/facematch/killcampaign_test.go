package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/blob/s3/s3test"
	"github.com/facematch/facematch/internal/testenv"
)

// The kill campaign: clients upload, search, decide and delete against the real binary while it
// is killed with SIGKILL at a random moment, round after round on one data directory. After each
// restart every write the service acknowledged is there, with its audit entry, and nothing it
// acknowledged as deleted is. At the end `facematch sweep` runs on the stopped service's data
// and the store holds no object (on S3, no version) that a record does not reference.
// FACEMATCH_KILL_ROUNDS sets the rounds per store (default 3; the campaign in bench/RESULTS.md
// ran 20 on each).

func killRounds(t *testing.T) int {
	if v := os.Getenv("FACEMATCH_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FACEMATCH_KILL_ROUNDS=%q: want a positive integer", v)
		}
		return n
	}
	return 3
}

func TestServiceKilledUnderLoad(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	dir := t.TempDir()
	killCampaign(t, dir, []string{"--data-dir", dir}, nil, func() []string {
		root := filepath.Join(dir, "blobs")
		var keys []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				keys = append(keys, filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator))))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	})
}

func TestServiceKilledUnderLoadS3(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	g := s3test.Start(t)
	cfg := g.Config("kills", "")
	dir := t.TempDir()
	killCampaign(t, dir, []string{"--data-dir", dir, "--blobs", "s3://kills/fm", "--s3-endpoint", cfg.Endpoint, "--s3-insecure"},
		[]string{"FACEMATCH_S3_ACCESS_KEY=" + cfg.AccessKey, "FACEMATCH_S3_SECRET_KEY=" + cfg.SecretKey}, func() []string {
			// Every version, delete markers included: a deletion must leave none.
			vs, err := g.Versions(context.Background(), "kills", "fm/")
			if err != nil {
				t.Fatal(err)
			}
			keys := make([]string, len(vs))
			for i, v := range vs {
				keys[i] = strings.TrimPrefix(v.Key, "fm/")
			}
			return keys
		})
}

// acked is what the service acknowledged, across rounds.
type acked struct {
	mu        sync.Mutex
	uploads   map[int64]string // image ID → sha256 of the bytes
	deleted   map[int64]bool   // image IDs whose DELETE answered 204
	deleting  map[int64]bool   // image IDs a DELETE was sent for, answered or not
	searches  map[int64]bool
	decisions map[string]string // "match/reviewer" → decision
	counts    map[string]int    // status counts per action, for the log
}

func (a *acked) count(action string, status int) {
	a.mu.Lock()
	a.counts[fmt.Sprintf("%s %d", action, status)]++
	a.mu.Unlock()
}

// killCampaign runs the rounds on the service started with args and env over dataDir; objects
// lists every object (every version) in its blob store.
func killCampaign(t *testing.T, dataDir string, args, env []string, objects func() []string) {
	rounds := killRounds(t)
	s := startService(t, args, env)
	tokens, ads, ref, photos, a := kcSetup(t, s)
	rng := rand.New(rand.NewPCG(12, uint64(len(args))))
	next := 1 // the next unused photo
	for round := 1; round <= rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var nextMu sync.Mutex
		takePhoto := func() string {
			nextMu.Lock()
			defer nextMu.Unlock()
			p := photos[next%len(photos)]
			next++
			return p
		}
		client := func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(round)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				kcStep(s, a, r, tokens, ref.ID, ads.ID, photos, takePhoto)
			}
		}
		for c := range 4 {
			wg.Add(1)
			go client(uint64(round*10 + c))
		}
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		s.cmd.Process.Kill()
		<-s.exited
		close(stop)
		wg.Wait()
		s.start()
		verifyAcked(t, s, a, tokens["aud"], tokens["rev1"], round)
	}
	s.stop()
	t.Logf("%d kills; acknowledged %d uploads, %d deletions, %d searches, %d decisions; statuses %v",
		rounds, len(a.uploads), len(a.deleted), len(a.searches), len(a.decisions), a.counts)

	// What the kills left unreferenced goes to the sweeper; after it, nothing unreferenced.
	before := len(unreferenced(dataDir, objects()))
	cmd := exec.Command(buildBinary(t), append([]string{"sweep", "--grace", "0s"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"FACEMATCH_ASSETS=" + testenv.Assets()}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("facematch sweep: %v\n%s", err, out)
	}
	left := unreferenced(dataDir, objects())
	t.Logf("unreferenced objects: %d after the kills, %d after the sweep", before, len(left))
	if len(left) != 0 {
		t.Fatalf("%d unreferenced objects after the sweep: %v", len(left), left)
	}
	// The audit log's hash chain survived every kill.
	if r := run(t, "audit", "verify", "--data-dir", dataDir); r.err != nil {
		t.Fatalf("audit verify after the kills: %v", r)
	} else {
		t.Logf("audit verify: %s", strings.TrimSpace(r.stdout))
	}
}

// unreferenced returns the keys no record of the catalog in dataDir references, the index's
// own objects aside; the references are read with plain SQL, the test's own account,
// independent of the sweeper's query.
func unreferenced(dataDir string, keys []string) []string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "metadata.db")+"?mode=ro")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	return unreferencedIn(db, keys)
}

// unreferencedIn is unreferenced on an open catalog database (SQLite or PostgreSQL: the query
// is plain SQL both read).
func unreferencedIn(db *sql.DB, keys []string) []string {
	refs := map[string]bool{}
	each := func(q string, fn func(string)) {
		rows, err := db.Query(q)
		if err != nil {
			panic(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				panic(err)
			}
			fn(s)
		}
	}
	add := func(k string) { refs[k] = true }
	each(`SELECT blob_key FROM images UNION ALL SELECT thumb_key FROM faces
		UNION ALL SELECT probe_key FROM searches UNION ALL SELECT thumb_key FROM probe_faces`, add)
	each(`SELECT spec FROM jobs WHERE state != 'done'`, func(spec string) {
		var s engine.JobSpec
		if json.Unmarshal([]byte(spec), &s) == nil {
			add(strings.TrimPrefix(s.Source, "upload:"))
			add(s.MetaKey)
		}
	})
	each(`SELECT blob_keys FROM purges`, func(js string) {
		var keys []string
		if json.Unmarshal([]byte(js), &keys) == nil {
			for _, k := range keys {
				add(k)
			}
		}
	})
	var out []string
	for _, k := range keys {
		if !refs[k] && !strings.HasPrefix(k, "index/") {
			out = append(out, k)
		}
	}
	return out
}

// kcCall sends one request; a connection error (the service being killed) is status 0.
// kcSetup prepares a campaign on s: the people's credentials, a collection (ads) and a
// reference gallery with one enrolled subject (ref), the photos in their order, and an empty
// record of what the service acknowledges.
func kcSetup(t *testing.T, s *service) (tokens map[string]string, ads, ref idObj, photos []string, a *acked) {
	t.Helper()
	tokens = s.tokens()
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "wanted", "kind": "reference"}, &ref)
	photos = lfwPhotos(t)
	var sub idObj
	s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", ref.ID), tokens["ann"], map[string]string{"name": "notice 1"}, &sub)
	s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ref.ID), tokens["ann"], photoForm(t, photos[0], map[string]string{"subject_id": fmt.Sprint(sub.ID)}), nil)
	a = &acked{uploads: map[int64]string{}, deleted: map[int64]bool{}, deleting: map[int64]bool{}, searches: map[int64]bool{}, decisions: map[string]string{}, counts: map[string]int{}}
	return tokens, ads, ref, photos, a
}

// kcStep is one client action of a kill campaign, drawn at random: an upload of a fresh photo
// (4 in 10), a search (2), a decision by one of the two reviewers (3) or a deletion (1).
func kcStep(s *service, a *acked, r *rand.Rand, tokens map[string]string, ref, ads int64, photos []string, takePhoto func() string) {
	switch op := r.IntN(10); {
	case op < 4:
		kcUpload(s, a, tokens["ann"], ads, takePhoto())
	case op < 6:
		kcSearch(s, a, tokens["ann"], ref, ads, photos[r.IntN(len(photos))])
	case op < 9:
		kcDecide(s, a, []string{tokens["rev1"], tokens["rev2"]}[r.IntN(2)], r)
	default:
		kcDelete(s, a, bootstrap, r)
	}
}

func kcCall(s *service, method, path, token, contentType string, body []byte, out any) int {
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0 // the answer was cut off: not acknowledged
	}
	if out != nil && resp.StatusCode < 300 {
		if json.Unmarshal(data, out) != nil {
			return 0
		}
	}
	return resp.StatusCode
}

func kcUpload(s *service, a *acked, token string, gallery int64, photo string) {
	f := photoForm(s.t, photo, nil)
	var up struct {
		Image struct {
			ID     int64  `json:"id"`
			SHA256 string `json:"sha256"`
		} `json:"image"`
	}
	st := kcCall(s, "POST", fmt.Sprintf("/v1/galleries/%d/images", gallery), token, f.contentType, f.data, &up)
	a.count("upload", st)
	if st == 201 || st == 200 {
		a.mu.Lock()
		a.uploads[up.Image.ID] = up.Image.SHA256
		a.mu.Unlock()
	}
}

func kcSearch(s *service, a *acked, token string, ref, ads int64, photo string) {
	f := photoForm(s.t, photo, map[string]string{"galleries": fmt.Sprintf("%d,%d", ref, ads), "purpose": "kill campaign", "k": "3"})
	var res searchResp
	st := kcCall(s, "POST", "/v1/searches", token, f.contentType, f.data, &res)
	a.count("search", st)
	if st == 201 {
		a.mu.Lock()
		a.searches[res.Search.ID] = true
		a.mu.Unlock()
	}
}

func kcDecide(s *service, a *acked, token string, r *rand.Rand) {
	var q struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	if kcCall(s, "GET", "/v1/matches?reviewable=true&limit=20", token, "", nil, &q) != 200 || len(q.Items) == 0 {
		return
	}
	m := q.Items[r.IntN(len(q.Items))].ID
	d := []string{"no_candidate", "inconclusive"}[r.IntN(2)]
	body, _ := json.Marshal(map[string]string{"decision": d})
	var me struct {
		Name string `json:"name"`
	}
	kcCall(s, "GET", "/v1/me", token, "", nil, &me)
	st := kcCall(s, "POST", fmt.Sprintf("/v1/matches/%d/decisions", m), token, "application/json", body, nil)
	a.count("decide", st)
	if st == 200 && me.Name != "" {
		a.mu.Lock()
		a.decisions[fmt.Sprintf("%d/%s", m, me.Name)] = d
		a.mu.Unlock()
	}
}

func kcDelete(s *service, a *acked, token string, r *rand.Rand) {
	a.mu.Lock()
	var live []int64
	for id := range a.uploads {
		if !a.deleted[id] {
			live = append(live, id)
		}
	}
	a.mu.Unlock()
	if len(live) == 0 {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i] < live[j] })
	id := live[r.IntN(len(live))]
	a.mu.Lock()
	a.deleting[id] = true
	a.mu.Unlock()
	st := kcCall(s, "DELETE", fmt.Sprintf("/v1/images/%d", id), token, "", nil, nil)
	a.count("delete", st)
	if st == 204 {
		a.mu.Lock()
		a.deleted[id] = true
		a.mu.Unlock()
	}
}

// verifyAcked checks, after a restart, every acknowledged write and its audit entry.
func verifyAcked(t *testing.T, s *service, a *acked, auditor, reader string, round int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, sha := range a.uploads {
		resp := s.raw("GET", fmt.Sprintf("/v1/images/%d", id), reader, "", nil)
		switch {
		case a.deleted[id] && resp.status != 404:
			t.Errorf("round %d: image %d was deleted (204) but answers %d", round, id, resp.status)
		case !a.deleted[id] && resp.status == 404 && a.deleting[id]:
			// Deleted by a DELETE whose answer the kill cut off.
		case !a.deleted[id] && resp.status != 200:
			t.Errorf("round %d: acknowledged image %d answers %d %s", round, id, resp.status, resp.body)
		case !a.deleted[id]:
			sum := sha256.Sum256([]byte(resp.body))
			if hex.EncodeToString(sum[:]) != sha {
				t.Errorf("round %d: image %d's bytes changed", round, id)
			}
		}
	}
	for id := range a.searches {
		if st := kcCall(s, "GET", fmt.Sprintf("/v1/searches/%d", id), reader, "", nil, nil); st != 200 {
			t.Errorf("round %d: acknowledged search %d answers %d", round, id, st)
		}
	}
	for key, d := range a.decisions {
		id, reviewer, _ := strings.Cut(key, "/")
		var m struct {
			Decisions []struct {
				Reviewer string `json:"reviewer"`
				Decision string `json:"decision"`
			} `json:"decisions"`
		}
		st := kcCall(s, "GET", "/v1/matches/"+id, reader, "", nil, &m)
		if st == 404 {
			continue // its candidate photo was deleted since, and the match with it
		}
		found := false
		for _, got := range m.Decisions {
			found = found || (got.Reviewer == reviewer && got.Decision == d)
		}
		if st != 200 || !found {
			t.Errorf("round %d: acknowledged decision %s=%s: match answers %d with %+v", round, key, d, st, m.Decisions)
		}
	}
	// Every acknowledged action has its audit entry.
	have := map[string]bool{}
	for cursor := ""; ; {
		var page struct {
			Items []struct {
				Actor  string `json:"actor"`
				Action string `json:"action"`
				Target string `json:"target"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if st := kcCall(s, "GET", "/v1/audit?limit=1000&cursor="+cursor, auditor, "", nil, &page); st != 200 {
			t.Fatalf("round %d: audit log answers %d", round, st)
		}
		for _, e := range page.Items {
			have[e.Action+" "+e.Target] = true
			have[e.Action+" "+e.Target+" "+e.Actor] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	for id := range a.uploads {
		if !have[fmt.Sprintf("image.upload image:%d", id)] {
			t.Errorf("round %d: acknowledged upload of image %d has no audit entry", round, id)
		}
	}
	for id := range a.deleted {
		if !have[fmt.Sprintf("image.delete image:%d", id)] {
			t.Errorf("round %d: acknowledged deletion of image %d has no audit entry", round, id)
		}
	}
	for id := range a.searches {
		if !have[fmt.Sprintf("search.create search:%d", id)] {
			t.Errorf("round %d: acknowledged search %d has no audit entry", round, id)
		}
	}
	for key := range a.decisions {
		id, reviewer, _ := strings.Cut(key, "/")
		if !have[fmt.Sprintf("match.decide match:%s %s", id, reviewer)] {
			t.Errorf("round %d: acknowledged decision %s has no audit entry", round, key)
		}
	}
}

// lfwPhotos lists LFW photos in a fixed shuffled order: enough distinct photos for every upload.
func lfwPhotos(t testing.TB) []string {
	t.Helper()
	dirs, err := os.ReadDir(data("lfw"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, _ := os.ReadDir(data("lfw", d.Name()))
		for _, f := range files {
			if strings.HasSuffix(f.Name(), ".jpg") {
				out = append(out, filepath.Join(d.Name(), f.Name()))
			}
		}
	}
	sort.Strings(out)
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// photoForm is a multipart upload of an LFW photo with fields.
func photoForm(t testing.TB, photo string, fields map[string]string) *multipartForm {
	img, err := os.ReadFile(data("lfw", photo))
	if err != nil {
		t.Error(err)
		return &multipartForm{}
	}
	return photoUpload(img, filepath.Base(photo), fields)
}
