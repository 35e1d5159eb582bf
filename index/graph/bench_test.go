package graph

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Benchmarks at the size of a sealed segment: 20,000 face-like 512-d
// vectors, M=16, efConstruction=200 on both implementations.
//
//	go test -run '^$' -bench . -benchtime 1x ./index/graph/        # builds
//	go test -run '^$' -bench Search -benchtime 3000x ./index/graph/
const (
	benchN   = 20000
	benchDim = 512
	benchNQ  = 500
)

var bench struct {
	once     sync.Once
	vectors  []float32
	queries  []float32
	gt       [][]uint32
	mu       sync.Mutex
	graphs   map[string]Graph
	buildDur map[string]time.Duration
}

func benchData() {
	bench.once.Do(func() {
		bench.vectors, bench.queries = faceLike(20, benchN, benchNQ, benchDim, 5)
		bench.gt = groundTruth(bench.vectors, bench.queries, benchDim, 10)
		bench.graphs = map[string]Graph{}
		bench.buildDur = map[string]time.Duration{}
	})
}

// benchGraph builds (once per process) the graph a search benchmark uses.
func benchGraph(b *testing.B, im impl) Graph {
	benchData()
	bench.mu.Lock()
	defer bench.mu.Unlock()
	if g, ok := bench.graphs[im.name]; ok {
		return g
	}
	start := time.Now()
	g, err := im.build(context.Background(), bench.vectors, benchDim, Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	bench.graphs[im.name] = g
	bench.buildDur[im.name] = time.Since(start)
	return g
}

func BenchmarkBuild(b *testing.B) {
	benchData()
	for _, im := range impls {
		b.Run(fmt.Sprintf("%s/n=%d", im.name, benchN), func(b *testing.B) {
			var g Graph
			for b.Loop() {
				var err error
				g, err = im.build(context.Background(), bench.vectors, benchDim, Config{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchN)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
			bench.mu.Lock()
			bench.graphs[im.name] = g
			bench.mu.Unlock()
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	for _, im := range impls {
		for _, ef := range []int{16, 32, 64, 128} {
			b.Run(fmt.Sprintf("%s/n=%d/ef=%d", im.name, benchN, ef), func(b *testing.B) {
				g := benchGraph(b, im)
				recall := recallAt(b, g, bench.queries, benchDim, 10, ef, bench.gt)
				i := 0
				for b.Loop() {
					q := bench.queries[(i%benchNQ)*benchDim : (i%benchNQ+1)*benchDim]
					if _, err := g.Search(q, 10, ef); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
				b.ReportMetric(recall, "recall@10")
			})
		}
	}
}

// BenchmarkExact is the brute-force baseline the graphs are measured against.
func BenchmarkExact(b *testing.B) {
	benchData()
	i := 0
	for b.Loop() {
		exact(bench.vectors, benchDim, bench.queries[(i%benchNQ)*benchDim:(i%benchNQ+1)*benchDim], 10)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
