package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The failure limiter's buckets: a burst, then waits; one audit a window per key with the
// failures it stands for; a global cap on audits; a bounded map.
func TestFailureLimiter(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	l := newFailureLimiter(AuthLimit{Burst: 2, Every: 10 * time.Second, MaxKeys: 3, AuditEvery: time.Minute, AuditBurst: 4})
	if w := l.wait("a", t0); w != 0 {
		t.Fatalf("unknown key waits %v", w)
	}
	audit, n := l.fail("a", t0)
	if !audit || n != 1 {
		t.Errorf("first failure: audit %v (%d), want audited", audit, n)
	}
	if audit, _ := l.fail("a", t0.Add(time.Second)); audit {
		t.Error("second failure in the window audited")
	}
	if w := l.wait("a", t0.Add(time.Second)); w != 9*time.Second {
		t.Errorf("after the burst: wait %v, want 9s", w)
	}
	if w := l.wait("a", t0.Add(10*time.Second)); w != 0 {
		t.Errorf("a token back: wait %v", w)
	}
	l.fail("a", t0.Add(30*time.Second))
	if audit, n := l.fail("a", t0.Add(61*time.Second)); !audit || n != 3 {
		t.Errorf("next window: audit %v with %d failures, want 3 (two counted, this one)", audit, n)
	}
	// The global cap: 4 audits a minute whatever the keys, one back every 15 s (3 left at 61 s).
	audits := 0
	for i := range 5 {
		if audit, _ := l.fail(fmt.Sprint("k", i), t0.Add(61*time.Second)); audit {
			audits++
		}
	}
	if audits != 3 {
		t.Errorf("%d audits of 5 new keys, want 3 (the global cap)", audits)
	}
	if len(l.buckets) > 3 {
		t.Errorf("%d keys tracked, the cap is 3", len(l.buckets))
	}
	// Long after, every bucket has refilled: a full map makes room by forgetting them.
	later := t0.Add(time.Hour)
	for i := range 10 {
		l.fail(fmt.Sprint("new", i), later)
	}
	if len(l.buckets) > 3 {
		t.Errorf("%d keys tracked, the cap is 3", len(l.buckets))
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "addr:203.0.113.9",
		"::ffff:203.0.113.9":   "addr:203.0.113.9",
		"2001:db8:1:2:3:4:5:6": "addr:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "addr:2001:db8:1:2::/64",
		"not an address":       "addr:not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMetricsWithoutCredential: the separate metrics handler answers /metrics to anyone and
// nothing else, with every metric's samples in one group; the API's own /metrics stays the
// admin's.
func TestMetricsWithoutCredential(t *testing.T) {
	gauges := []Gauge{{Name: "b_total", Help: "b", Value: 1, Counter: true, Labels: map[string]string{"x": "1"}}, {Name: "a", Help: "a", Value: 2},
		{Name: "b_total", Help: "b", Value: 3, Counter: true, Labels: map[string]string{"x": "2"}}}
	ts := newTestServerWith(t, func(c *Config) { c.Gauges = func() []Gauge { return gauges } })
	srv, err := New(Config{Service: ts.svc, Gauges: func() []Gauge { return gauges }})
	if err != nil {
		t.Fatal(err)
	}
	m := httptest.NewServer(srv.MetricsHandler())
	defer m.Close()
	resp, err := http.Get(m.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if resp.StatusCode != 200 || !strings.Contains(text, "# TYPE b_total counter\nb_total{x=\"1\"} 1\nb_total{x=\"2\"} 3\n") || !strings.Contains(text, "# TYPE a gauge\na 2\n") {
		t.Fatalf("metrics without a credential: %d\n%s", resp.StatusCode, text)
	}
	if resp, err := http.Get(m.URL + "/v1/galleries"); err != nil || resp.StatusCode != 404 {
		t.Errorf("the metrics listener answers the API: %v %v", resp.StatusCode, err)
	}
	if resp, _ := ts.do(t, "GET", "/metrics", "", "", nil); resp.StatusCode != 401 {
		t.Errorf("the API's /metrics without a credential: %d, want 401", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "GET", "/metrics", ts.tokens["analyst"], "", nil); resp.StatusCode != 403 {
		t.Errorf("the API's /metrics as an analyst: %d, want 403", resp.StatusCode)
	}
}
