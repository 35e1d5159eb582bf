package main

import (
	"fmt"

	"github.com/facematch/facematch/index"
)

// graphKinds are the graphs a sealed segment can carry; "exact" carries none.
var graphKinds = map[string]*index.GraphKind{"exact": nil}

func graphNames() string { return "exact" }

func graphKind(name string) (*index.GraphKind, error) {
	g, ok := graphKinds[name]
	if !ok {
		return nil, fmt.Errorf("unknown graph %q (have %s)", name, graphNames())
	}
	return g, nil
}
