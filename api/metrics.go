package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Gauge is one service sample for /metrics, e.g. facematch_index_faces{model="…"}: a gauge,
// or a counter (a total that only grows, for rate()) when Counter is set.
type Gauge struct {
	Name, Help string
	Labels     map[string]string
	Value      float64
	Counter    bool
}

// metrics counts requests per method, route and status, and their latency (Prometheus text
// format, histogram buckets in seconds). A handful of series: a map under a mutex is enough.
type metrics struct {
	mu       sync.Mutex
	requests map[[3]string]uint64
	latency  map[[2]string]*histogram
}

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, cumulative when written
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[3]string]uint64{}, latency: map[[2]string]*histogram{}}
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{method, route, fmt.Sprint(status)}]++
	h := m.latency[[2]string{method, route}]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[[2]string{method, route}] = h
	}
	sec := d.Seconds()
	for i, b := range latencyBuckets {
		if sec <= b {
			h.counts[i]++
		}
	}
	h.sum += sec
	h.n++
}

func (m *metrics) write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.WriteString("# HELP facematch_http_requests_total HTTP requests by method, route and status.\n# TYPE facematch_http_requests_total counter\n")
	keys := make([][3]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], " ") < strings.Join(keys[j][:], " ") })
	for _, k := range keys {
		fmt.Fprintf(b, "facematch_http_requests_total{method=%q,route=%q,status=%q} %d\n", k[0], k[1], k[2], m.requests[k])
	}
	b.WriteString("# HELP facematch_http_request_duration_seconds HTTP request latency by method and route.\n# TYPE facematch_http_request_duration_seconds histogram\n")
	lk := make([][2]string, 0, len(m.latency))
	for k := range m.latency {
		lk = append(lk, k)
	}
	sort.Slice(lk, func(i, j int) bool { return lk[i][0]+lk[i][1] < lk[j][0]+lk[j][1] })
	for _, k := range lk {
		h := m.latency[k]
		for i, le := range latencyBuckets {
			fmt.Fprintf(b, "facematch_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"%g\"} %d\n", k[0], k[1], le, h.counts[i])
		}
		fmt.Fprintf(b, "facematch_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"+Inf\"} %d\n", k[0], k[1], h.n)
		fmt.Fprintf(b, "facematch_http_request_duration_seconds_sum{method=%q,route=%q} %g\n", k[0], k[1], h.sum)
		fmt.Fprintf(b, "facematch_http_request_duration_seconds_count{method=%q,route=%q} %d\n", k[0], k[1], h.n)
	}
}

func (s *Server) metricsHandler(c echo.Context) error {
	var b strings.Builder
	s.metrics.write(&b)
	if s.cfg.Gauges != nil {
		// A metric's samples must form one group in the text format: sort by name, keeping
		// each one's own order of labels.
		gauges := s.cfg.Gauges()
		sort.SliceStable(gauges, func(i, j int) bool { return gauges[i].Name < gauges[j].Name })
		seen := map[string]bool{}
		for _, g := range gauges {
			if !seen[g.Name] {
				kind := "gauge"
				if g.Counter {
					kind = "counter"
				}
				fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", g.Name, g.Help, g.Name, kind)
				seen[g.Name] = true
			}
			var labels []string
			for k, v := range g.Labels {
				labels = append(labels, fmt.Sprintf("%s=%q", k, v))
			}
			sort.Strings(labels)
			l := ""
			if len(labels) > 0 {
				l = "{" + strings.Join(labels, ",") + "}"
			}
			fmt.Fprintf(&b, "%s%s %g\n", g.Name, l, g.Value)
		}
	}
	return c.Blob(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", []byte(b.String()))
}

// MetricsHandler serves GET /metrics alone, without a credential, for a separate listener
// (serve --metrics-addr): a Prometheus server then holds no key that could read a photo or
// delete a gallery. The metrics name no person, photo or credential.
func (s *Server) MetricsHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.log)
	e.GET("/metrics", s.metricsHandler)
	return e
}
