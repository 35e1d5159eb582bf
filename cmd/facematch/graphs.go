package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
)

// graphKinds are the graphs a sealed segment can carry: "hnsw" (the index's own, the default),
// "coder" (github.com/coder/hnsw behind a wrapper) and "exact" (none: sealed segments are
// scanned). All use M=16 and efConstruction=200, as the hnswlib baseline does.
var graphKinds = map[string]func() *index.GraphKind{
	"hnsw":  func() *index.GraphKind { return index.HNSWGraph(graph.Config{}) },
	"coder": func() *index.GraphKind { return index.CoderGraph(graph.Config{}) },
	"exact": func() *index.GraphKind { return nil },
}

func graphNames() string {
	names := make([]string, 0, len(graphKinds))
	for n := range graphKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func graphKind(name string) (*index.GraphKind, error) {
	g, ok := graphKinds[name]
	if !ok {
		return nil, fmt.Errorf("unknown graph %q (have %s)", name, graphNames())
	}
	return g(), nil
}
