// Package indexbench measures the vector index (`facematch bench index`): build rate, memory,
// search speed and latency, recall against exact search, mate recall, snapshot throughput and
// restart time, on face-shaped synthetic vectors plus real LFW embeddings as mated queries.
package indexbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/facematch/facematch/engine"
)

// RealEmbeddings are the primary-face embeddings of a photo tree, labelled by identity folder.
type RealEmbeddings struct {
	Model   string
	Paths   []string
	Labels  []string
	Vectors [][]float32
}

// LoadOrEmbed returns the embeddings of every JPEG under root, computing them with p on the
// first call and caching them in cache (LFW is public research data; the cache stays under
// bench/out, which git ignores).
func LoadOrEmbed(ctx context.Context, p *engine.Pipeline, root, cache string, workers int, progress engine.Progress) (*RealEmbeddings, error) {
	model := p.Embedder.Identity()
	if f, err := os.Open(cache); err == nil {
		defer f.Close()
		var r RealEmbeddings
		if err := gob.NewDecoder(f).Decode(&r); err == nil && r.Model == model {
			return &r, nil
		}
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(strings.ToLower(path), ".jpg") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexbench: %w", err)
	}
	sort.Strings(files)
	embs, err := p.EmbedPrimaries(ctx, root, files, workers, progress)
	if err != nil {
		return nil, err
	}
	r := &RealEmbeddings{Model: model}
	for _, e := range embs {
		if e.Embedding == nil {
			continue
		}
		r.Paths = append(r.Paths, e.Path)
		r.Labels = append(r.Labels, strings.Split(filepath.ToSlash(e.Path), "/")[0])
		r.Vectors = append(r.Vectors, e.Embedding.Vector)
	}
	_ = WriteCache(cache, r) // a cache that cannot be written costs the next run time, not this one
	return r, nil
}

// clusterVectors is the file `facematch eval cluster --vectors` writes (the fields read here).
type clusterVectors struct {
	Model   string
	Dim     int
	Vectors []byte // little-endian float32, Dim per face
	Truth   []string
	Sets    []string
	Paths   []string
}

// FromClusterVectors returns the faces of one set (the base name of a root, e.g. "lfw") from an
// `eval cluster --vectors` file, so embeddings computed once for clustering serve the index
// benchmark too. It refuses a file made with another model than want.
func FromClusterVectors(path, set, want string) (*RealEmbeddings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("indexbench: %w", err)
	}
	defer f.Close()
	var c clusterVectors
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&c); err != nil {
		return nil, fmt.Errorf("indexbench: reading %s: %w", path, err)
	}
	if c.Model != want {
		return nil, fmt.Errorf("indexbench: %s holds %s embeddings, want %s", path, c.Model, want)
	}
	if c.Dim < 1 || len(c.Vectors) != 4*c.Dim*len(c.Truth) || len(c.Sets) != len(c.Truth) || len(c.Paths) != len(c.Truth) {
		return nil, fmt.Errorf("indexbench: %s: inconsistent lengths", path)
	}
	r := &RealEmbeddings{Model: c.Model}
	for i, s := range c.Sets {
		if s != set {
			continue
		}
		v := make([]float32, c.Dim)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(c.Vectors[4*(i*c.Dim+j):]))
		}
		r.Paths = append(r.Paths, c.Paths[i])
		r.Labels = append(r.Labels, strings.Split(filepath.ToSlash(c.Paths[i]), "/")[0])
		r.Vectors = append(r.Vectors, v)
	}
	if len(r.Vectors) == 0 {
		return nil, fmt.Errorf("indexbench: %s has no faces of set %q", path, set)
	}
	return r, nil
}

// WriteCache writes r where LoadOrEmbed looks for it.
func WriteCache(cache string, r *RealEmbeddings) error {
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
		return fmt.Errorf("indexbench: %w", err)
	}
	f, err := os.OpenFile(cache, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("indexbench: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return fmt.Errorf("indexbench: writing %s: %w", cache, err)
	}
	return f.Close()
}
