package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/testenv"
)

// TestServeKilledUnderLoadLosesNothing: the service is killed (SIGKILL) while uploads, re-uploads
// of the same bytes, deletions and searches run, a few times; after a restart and a sweep every
// acknowledged upload (never asked to be deleted) still has its photo and thumbnails, and the
// blob store holds no object that no record references.
func TestServeKilledUnderLoadLosesNothing(t *testing.T) {
	requireEnv(t)
	dir := t.TempDir()
	var pool [][]byte
	for _, rel := range []string{"Sandy_Smith/Sandy_Smith_0001.jpg", "Eric_Daze/Eric_Daze_0001.jpg", "Tanya_Holyk/Tanya_Holyk_0001.jpg",
		"Robert_Hyatt/Robert_Hyatt_0001.jpg", "Michael_Hagee/Michael_Hagee_0001.jpg", "Colin_Phillips/Colin_Phillips_0001.jpg"} {
		b, err := os.ReadFile(data("lfw", rel))
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, b)
	}
	var (
		mu       sync.Mutex
		acked    = map[int64][]byte{} // acknowledged, never asked to be deleted
		deleting = map[int64]bool{}
		counts   = map[string]int{}
	)
	var analyst string
	client := &http.Client{Timeout: 30 * time.Second}
	for round := range 3 {
		s := startService(t, []string{"--data-dir", dir}, nil)
		if round == 0 {
			var g idObj
			s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &g)
			analyst = s.tokens()["ann"]
		}
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		loop := func(fn func(i int)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					fn(i)
				}
			}()
		}
		for w := range 2 {
			loop(func(i int) {
				b := pool[(i*2+w)%len(pool)]
				var e engine.Enrolled
				st := send(ctx, client, s.url, "POST", "/v1/galleries/1/images", bootstrap, b, nil, &e)
				mu.Lock()
				defer mu.Unlock()
				counts[fmt.Sprint("upload ", st)]++
				if (st == 200 || st == 201) && !deleting[e.Image.ID] {
					acked[e.Image.ID] = b
				}
			})
		}
		loop(func(int) {
			mu.Lock()
			var id int64
			for k := range acked {
				if rand.IntN(2) == 0 {
					id = k
					break
				}
			}
			if id != 0 {
				deleting[id] = true
				delete(acked, id)
			}
			mu.Unlock()
			if id == 0 {
				time.Sleep(20 * time.Millisecond)
				return
			}
			st := send(ctx, client, s.url, "DELETE", fmt.Sprintf("/v1/images/%d", id), bootstrap, nil, nil, nil)
			mu.Lock()
			counts[fmt.Sprint("delete ", st)]++
			mu.Unlock()
			time.Sleep(250 * time.Millisecond) // leave some photos stored
		})
		loop(func(i int) {
			st := send(ctx, client, s.url, "POST", "/v1/searches", analyst, pool[i%len(pool)],
				map[string]string{"galleries": "1", "purpose": "case 12"}, nil)
			mu.Lock()
			counts[fmt.Sprint("search ", st)]++
			mu.Unlock()
		})
		time.Sleep(time.Duration(1500+400*round) * time.Millisecond)
		s.cmd.Process.Kill()
		<-s.exited
		stop()
		wg.Wait()
	}
	t.Logf("requests: %v; %d acknowledged uploads kept", counts, len(acked))

	cmd := exec.Command(buildBinary(t), "sweep", "--data-dir", dir, "--grace", "0s")
	cmd.Env = append(os.Environ(), "FACEMATCH_ASSETS="+testenv.Assets())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("facematch sweep: %v\n%s", err, out)
	}
	t.Logf("sweep: %s", bytes.TrimSpace(out))

	s := startService(t, []string{"--data-dir", dir}, nil)
	lost := 0
	for id, want := range acked {
		var got []byte
		if st := send(context.Background(), client, s.url, "GET", fmt.Sprintf("/v1/images/%d", id), bootstrap, nil, nil, &got); st != 200 || !bytes.Equal(got, want) {
			lost++
			t.Errorf("acknowledged image %d: status %d, %d bytes (want %d)", id, st, len(got), len(want))
			continue
		}
		var faces struct {
			Faces []struct {
				ID int64 `json:"id"`
			} `json:"faces"`
		}
		s.mustCall(200, "GET", fmt.Sprintf("/v1/images/%d/faces", id), bootstrap, nil, &faces)
		for _, f := range faces.Faces {
			if st := send(context.Background(), client, s.url, "GET", fmt.Sprintf("/v1/faces/%d/thumbnail", f.ID), bootstrap, nil, nil, nil); st != 200 {
				lost++
				t.Errorf("thumbnail of face %d of acknowledged image %d: status %d", f.ID, id, st)
			}
		}
	}
	s.stop()
	if lost != 0 || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged uploads lost their photo or a thumbnail", lost, len(acked))
	}

	refs := referencedKeys(t, filepath.Join(dir, "metadata.db"))
	root := filepath.Join(dir, "blobs")
	unreferenced := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if strings.HasPrefix(key, "index/") {
			return nil // the index's own objects
		}
		if !refs[key] {
			unreferenced++
			t.Errorf("unreferenced object %s", key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if unreferenced != 0 {
		t.Fatalf("%d unreferenced objects after kills, a restart and a sweep", unreferenced)
	}
}

// send makes one request, tolerating a connection the kill cuts (status 0). An image, if set,
// goes as the multipart field "image" with fields; out receives the JSON body, or the bytes
// when it is a *[]byte.
func send(ctx context.Context, c *http.Client, base, method, path, token string, image []byte, fields map[string]string, out any) int {
	var body io.Reader
	ct := ""
	if image != nil {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range fields {
			w.WriteField(k, v)
		}
		fw, _ := w.CreateFormFile("image", "photo.jpg")
		fw.Write(image)
		w.Close()
		body, ct = &buf, w.FormDataContentType()
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	if resp.StatusCode < 300 {
		switch o := out.(type) {
		case nil:
		case *[]byte:
			*o = data
		default:
			if json.Unmarshal(data, out) != nil {
				return 0
			}
		}
	}
	return resp.StatusCode
}

// referencedKeys returns every blob key a record of the catalog at path references, read with
// plain SQL: the test's own account, independent of the sweeper's query.
func referencedKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	refs := map[string]bool{}
	each := func(q string, fn func(string)) {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			fn(s)
		}
	}
	add := func(k string) { refs[k] = true }
	each(`SELECT blob_key FROM images UNION ALL SELECT thumb_key FROM faces
		UNION ALL SELECT probe_key FROM searches UNION ALL SELECT thumb_key FROM probe_faces`, add)
	each(`SELECT spec FROM jobs WHERE state != 'done'`, func(spec string) {
		var s engine.JobSpec
		json.Unmarshal([]byte(spec), &s)
		add(strings.TrimPrefix(s.Source, "upload:"))
		add(s.MetaKey)
	})
	each(`SELECT blob_keys FROM purges`, func(js string) {
		var keys []string
		json.Unmarshal([]byte(js), &keys)
		for _, k := range keys {
			add(k)
		}
	})
	delete(refs, "")
	return refs
}
