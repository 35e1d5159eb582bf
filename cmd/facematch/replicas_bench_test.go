package main

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/testenv"
)

// BenchmarkReplicas measures the real binary as 1, 2 and 3 replicas on one PostgreSQL and one
// versitygw, all on this machine (so the replicas share its cores): uploads and searches per
// second under six clients spread over the replicas for 30 s; the propagation of an upload to
// the other replicas; then the writer's failover: it is killed with SIGKILL five times and the
// time until another replica holds the lease and until an upload succeeds on another replica
// is taken.
//
//	go test -run '^$' -bench Replicas -benchtime 1x -timeout 60m ./cmd/facematch/
func BenchmarkReplicas(b *testing.B) {
	testenv.RequireModels(b)
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			for range b.N {
				benchReplicas(b, n)
			}
		})
	}
}

func benchReplicas(b *testing.B, n int) {
	rs := startReplicas(b, n)
	s0 := rs.svcs[0]
	tokens := s0.tokens()
	var ads, ref idObj
	s0.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	s0.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "wanted", "kind": "reference"}, &ref)
	photos := lfwPhotos(b)
	var next atomic.Int64
	var uploads, searches, failed atomic.Int64
	const clients, duration = 6, 30 * time.Second
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rs.svcs[c%n]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				photo := photos[int(next.Add(1))%len(photos)]
				if i%2 == 0 {
					f := photoForm(b, photo, nil)
					if st := kcCall(s, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data, nil); st == 201 || st == 200 {
						uploads.Add(1)
					} else {
						failed.Add(1)
					}
				} else {
					f := photoForm(b, photo, map[string]string{"galleries": fmt.Sprintf("%d,%d", ref.ID, ads.ID), "purpose": "benchmark", "k": "3"})
					if st := kcCall(s, "POST", "/v1/searches", tokens["ann"], f.contentType, f.data, nil); st == 201 {
						searches.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(uploads.Load())/duration.Seconds(), "uploads/s")
	b.ReportMetric(float64(searches.Load())/duration.Seconds(), "searches/s")
	b.ReportMetric(float64(failed.Load()), "failed")
	rs.converged(30*time.Second, "after the load")
	if n < 2 {
		return
	}
	// Propagation through the service: from an upload's answer on one replica until every
	// other replica's index has applied the log up to it (its applied sequence number, read
	// from /metrics, whose own read costs a millisecond or two).
	var props []time.Duration
	for range 50 {
		f := photoForm(b, photos[int(next.Add(1))%len(photos)], nil)
		if st := kcCall(s0, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data, nil); st != 201 && st != 200 {
			continue
		}
		answered := time.Now()
		seq := gauges(s0)["facematch_index_applied_seq"]
		for _, s := range rs.svcs[1:] {
			for gauges(s)["facematch_index_applied_seq"] < seq {
				if time.Since(answered) > 30*time.Second {
					b.Fatal("an upload did not reach another replica in 30 s")
				}
			}
		}
		props = append(props, time.Since(answered))
	}
	sort.Slice(props, func(i, j int) bool { return props[i] < props[j] })
	b.ReportMetric(float64(props[len(props)/2].Microseconds())/1000, "propagation-p50-ms")
	b.ReportMetric(float64(props[len(props)*99/100].Microseconds())/1000, "propagation-p99-ms")

	var leases, writes []time.Duration
	for range 5 {
		w := rs.writer(30 * time.Second)
		other := rs.svcs[(w+1)%n]
		v := rs.svcs[w]
		v.cmd.Process.Kill()
		<-v.exited
		killed := time.Now()
		// Uploads do not wait for a writer (any replica appends to the log): one is sent at
		// once, beside the wait for the lease.
		uploaded := make(chan time.Duration, 1)
		go func() {
			for {
				f := photoForm(b, photos[int(next.Add(1))%len(photos)], nil)
				if st := kcCall(other, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], f.contentType, f.data, nil); st == 201 || st == 200 {
					uploaded <- time.Since(killed)
					return
				}
				if time.Since(killed) > time.Minute {
					uploaded <- -1
					return
				}
			}
		}()
		rs.writer(30 * time.Second)
		leases = append(leases, time.Since(killed))
		took := <-uploaded
		if took < 0 {
			b.Fatal("no upload succeeded within a minute of the writer's kill")
		}
		writes = append(writes, took)
		v.start()
	}
	med := func(ds []time.Duration) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2].Seconds()
	}
	b.ReportMetric(med(leases), "failover-lease-s")
	b.ReportMetric(med(writes), "failover-upload-s")
	b.Logf("failover: lease taken after %v, first upload after %v", leases, writes)
}
