package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/facematch/facematch/index"
	"github.com/facematch/facematch/index/graph"
)

// graphKinds are the graphs the index benchmark can give sealed segments: "hnsw" (the index's
// own, the default and what the service builds), "coder" (the library github.com/coder/hnsw
// behind its adapter, for comparison) and "exact" (none: sealed segments are scanned). The zero graph.Config means M=16 and efConstruction=200, as the hnswlib baseline uses.
var graphKinds = map[string]func(graph.Config) *index.GraphKind{
	"hnsw":  index.HNSWGraph,
	"coder": index.CoderGraph,
	"exact": func(graph.Config) *index.GraphKind { return nil },
}

func graphNames() string {
	names := make([]string, 0, len(graphKinds))
	for n := range graphKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func graphKind(name string, cfg graph.Config) (*index.GraphKind, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g, ok := graphKinds[name]
	if !ok {
		return nil, fmt.Errorf("unknown graph %q (have %s)", name, graphNames())
	}
	return g(cfg), nil
}
