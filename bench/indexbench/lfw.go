// Package indexbench measures the vector index (`facematch bench index`): build rate, memory,
// search speed and latency, recall against exact search, mate recall, snapshot throughput and
// restart time, on face-shaped synthetic vectors plus real LFW embeddings as mated queries.
package indexbench

import (
	"context"
	"encoding/gob"
	"fmt"
	"io/fs"
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
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err == nil {
		if f, err := os.OpenFile(cache, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err == nil {
			gob.NewEncoder(f).Encode(r)
			f.Close()
		}
	}
	return r, nil
}
