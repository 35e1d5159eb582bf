package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/models/decode"
)

// flatPNG is a w×h PNG of one colour: a few kilobytes on the wire, w×h×4 bytes once decoded.
func flatPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, w, h))
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAdmissionUnderConcurrency: issue 12 took the process to 5.2 GB with 32 parallel uploads of
// 36-megapixel PNGs of 128 KB each. With a memory budget for two such photos, eight parallel
// uploads and searches must be admitted two at a time at most, and the rest answered 503 with
// Retry-After, never 500; the ones admitted get the 422 of a photo without a face.
func TestAdmissionUnderConcurrency(t *testing.T) {
	data := flatPNG(t, 4000, 4000)
	h, err := decode.Inspect(data, decode.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	weight := h.PeakBytes() + 32<<20 // engine's analysisBytes
	budget := weight * 5 / 2
	ts := newTestServerWithService(t, func(c *engine.ServiceConfig) {
		c.MemoryBudget, c.AdmissionWait = budget, 20*time.Millisecond // shorter than one decode: a third request waits past it
	})
	_, body := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	var g struct{ ID int64 }
	json.Unmarshal(body, &g)

	const n = 8
	type answer struct {
		status     int
		retryAfter string
		body       string
		took       time.Duration
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			fields := map[string]string{}
			path := fmt.Sprintf("/v1/galleries/%d/images", g.ID)
			if i%2 == 1 {
				path, fields = "/v1/searches", map[string]string{"galleries": fmt.Sprint(g.ID), "purpose": "case 1"}
			}
			b, ct := multipartBody(t, data, fields)
			req, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+ts.tokens["analyst"])
			req.Header.Set("Content-Type", ct)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Retry-After"), buf.String(), time.Since(start)}
		})
	}
	wg.Wait()
	refused := 0
	for i, a := range answers {
		t.Logf("request %d: %d Retry-After=%q in %v: %s", i, a.status, a.retryAfter, a.took.Round(time.Millisecond), a.body)
		switch a.status {
		case http.StatusUnprocessableEntity:
		case http.StatusServiceUnavailable:
			refused++
			if a.retryAfter == "" {
				t.Errorf("request %d: 503 without Retry-After", i)
			}
		default:
			t.Errorf("request %d: status %d, want 422 (no face) or 503", i, a.status)
		}
	}
	if refused == 0 {
		t.Errorf("no request was refused: all %d photos were decoded at once", n)
	}
	st := ts.svc.Admission()
	t.Logf("admission: %+v (one photo weighs %d)", st, weight)
	if st.Peak > budget || st.Peak < weight {
		t.Errorf("peak admitted weight %d, want between one photo (%d) and the budget (%d)", st.Peak, weight, budget)
	}
	if st.Held != 0 || st.Refused != int64(refused) {
		t.Errorf("after the requests: %d bytes still held, %d refusals counted for %d answered", st.Held, st.Refused, refused)
	}

	// A photo heavier than the whole budget can never be admitted: 413, not 503.
	small := newTestServerWithService(t, func(c *engine.ServiceConfig) { c.MemoryBudget = weight / 2 })
	_, body = small.do(t, "POST", "/v1/galleries", small.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	json.Unmarshal(body, &g)
	b, ct := multipartBody(t, data, nil)
	resp, body := small.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), small.tokens["analyst"], ct, b)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte("memory budget")) {
		t.Errorf("over-budget photo: %d %s, want 413 naming the memory budget", resp.StatusCode, body)
	}
}

// TestScanBombIs422: a JPEG with more scans than the cap is refused before decoding with a 422
// that says why.
func TestScanBombIs422(t *testing.T) {
	ts := newTestServer(t)
	_, body := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	var g struct{ ID int64 }
	json.Unmarshal(body, &g)
	small := flatJPEG(t)
	sos := bytes.Index(small, []byte{0xff, 0xda})
	bomb := append([]byte{}, small[:sos]...)
	for range 150 {
		bomb = append(bomb, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0)
	}
	bomb = append(bomb, small[sos:]...)
	b, ct := multipartBody(t, bomb, nil)
	resp, body := ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), ts.tokens["analyst"], ct, b)
	if resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte("more than 100 scans")) {
		t.Errorf("scan bomb: %d %s, want 422 naming the scan limit", resp.StatusCode, body)
	}
}

func flatJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeTimeoutKeepsBudgetHeld: a decode that outlives the decode timeout answers 503 with
// Retry-After at once, but Go's decoder cannot be stopped, so the photo's budget stays held
// until the decoder returns: a second photo is refused meanwhile, then admitted.
func TestDecodeTimeoutKeepsBudgetHeld(t *testing.T) {
	data := flatPNG(t, 6000, 6000) // ~0.3 s to decode here
	h, err := decode.Inspect(data, decode.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	weight := h.PeakBytes() + 32<<20
	ts := newTestServerWithService(t, func(c *engine.ServiceConfig) {
		c.MemoryBudget, c.AdmissionWait, c.DecodeTimeout = weight, 10*time.Millisecond, time.Millisecond
	})
	_, body := ts.do(t, "POST", "/v1/galleries", ts.tokens["admin"], "application/json", []byte(`{"name":"ads","kind":"collection"}`))
	var g struct{ ID int64 }
	json.Unmarshal(body, &g)
	upload := func() (*http.Response, []byte) {
		b, ct := multipartBody(t, data, nil)
		return ts.do(t, "POST", fmt.Sprintf("/v1/galleries/%d/images", g.ID), ts.tokens["analyst"], ct, b)
	}

	resp, body := upload()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!bytes.Contains(body, []byte("decoding the photo took longer than 1ms")) {
		t.Fatalf("slow decode: %d Retry-After=%q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if st := ts.svc.Admission(); st.Held != weight || st.Late != 1 {
		t.Fatalf("right after the 503: %+v, want the photo's %d bytes still held by its decoder", st, weight)
	}
	resp, body = upload()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("as many photos as its memory allows")) {
		t.Fatalf("while the abandoned decode runs: %d %s, want 503 for want of budget", resp.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts.svc.Admission().Held != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned decode never gave its budget back: %+v", ts.svc.Admission())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
