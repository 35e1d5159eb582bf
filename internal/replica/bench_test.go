package replica_test

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// BenchmarkPropagation measures how long a face added through one replica takes to be applied
// by the two others (PostgreSQL's notification, the log read, the apply), one face at a time
// on a quiet cluster. It reports the 50th and 99th percentiles over b.N faces of the slower
// follower, and the time an Add takes on the replica that accepts it.
//
//	go test -run '^$' -bench Propagation -benchtime 500x ./internal/replica/
func BenchmarkPropagation(b *testing.B) {
	c := newCluster(b, 3)
	w := c.writer(10 * time.Second)
	var via *node
	var followers []*node
	for _, n := range c.nodes {
		if n != w && via == nil {
			via = n
		} else {
			followers = append(followers, n)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	var delays, adds []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := uint64(i + 1)
		start := time.Now()
		c.enrol(via, vec(r))
		adds = append(adds, time.Since(start))
		seq := via.n.Index(model).Index().AppliedSeq()
		for _, f := range followers {
			for f.n.Index(model).Index().AppliedSeq() < seq {
				if time.Since(start) > 10*time.Second {
					b.Fatalf("%s did not apply face %d in 10 s", f.name, id)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(delays, 0.50), "propagation-p50-ms")
	b.ReportMetric(pct(delays, 0.99), "propagation-p99-ms")
	b.ReportMetric(pct(adds, 0.50), "add-p50-ms")
	b.ReportMetric(pct(adds, 0.99), "add-p99-ms")
}
