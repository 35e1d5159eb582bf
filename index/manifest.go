package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/facematch/facematch/internal/blob"
)

const manifestFormat = 1

// manifest names the live set of segments. It is written after the segments it names, under a
// new generation, create-only: a second writer loses with blob.ErrExists instead of silently
// replacing a manifest. (The index's own earlier write of the same state, stored although its
// reply was lost, is recognised as such: see publishManifest.)
type manifest struct {
	Format     int               `json:"format"`
	Generation uint64            `json:"generation"`
	Model      string            `json:"model"`
	Dim        int               `json:"dim"`
	Segments   []manifestSegment `json:"segments"`
	// Tombstones are deleted faces still present in some segment (purged at compaction).
	Tombstones []uint64 `json:"tombstones"`
	// CoveredLSN: every logged operation with a sequence number up to this one is reflected in
	// the segments and tombstones above; replay starts after it.
	CoveredLSN uint64 `json:"covered_lsn"`
	NextSeq    uint64 `json:"next_seq"`
	// SourceSeq, with a shared log (Config.SharedLog), is the highest log sequence number whose
	// op the segments and tombstones reflect: a node loading this manifest applies the log
	// from the next one. 0 in manifests written before it existed or without a shared log.
	SourceSeq uint64 `json:"source_seq,omitempty"`
}

type manifestSegment struct {
	Key   string `json:"key"`
	Seq   uint64 `json:"seq"`
	Count int    `json:"count"`
}

// Key builders and parsers, in one place (Milvus' rule: every path goes through the builder).
func manifestKey(prefix string, gen uint64) string {
	return path.Join(prefix, "manifests", fmt.Sprintf("%020d.json", gen))
}

func parseManifestKey(prefix, key string) (uint64, bool) {
	name, ok := strings.CutPrefix(key, path.Join(prefix, "manifests")+"/")
	if !ok {
		return 0, false
	}
	gen, err := strconv.ParseUint(strings.TrimSuffix(name, ".json"), 10, 64)
	return gen, err == nil && strings.HasSuffix(name, ".json")
}

// segmentKey names a segment object; the generation makes every write a new immutable object.
func segmentKey(prefix string, seq, gen uint64) string {
	return path.Join(prefix, "segments", fmt.Sprintf("%010d-%020d.seg", seq, gen))
}

// writerSegmentKey is segmentKey with a writer's tag. Two writers of a shared log (one fenced,
// not knowing it yet) start from the same manifest, so they would write the same seq and
// generation: the tag keeps the loser's upload from overwriting an object the winner's manifest
// names (a segment put is not create-only).
func writerSegmentKey(prefix string, seq, gen uint64, tag string) string {
	if tag == "" {
		return segmentKey(prefix, seq, gen)
	}
	return path.Join(prefix, "segments", fmt.Sprintf("%010d-%020d-%s.seg", seq, gen, tag))
}

// parseSegmentGeneration returns the generation a segment key was written for (with or
// without a writer's tag).
func parseSegmentGeneration(key string) (uint64, bool) {
	name := strings.TrimSuffix(path.Base(key), ".seg")
	_, rest, ok := strings.Cut(name, "-")
	if !ok || !strings.HasSuffix(key, ".seg") {
		return 0, false
	}
	genStr, _, _ := strings.Cut(rest, "-")
	gen, err := strconv.ParseUint(genStr, 10, 64)
	return gen, err == nil
}

func encodeManifest(m *manifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(body, "\ncrc32c:%08x\n", crc32.Checksum(body, castagnoli)), nil
}

func decodeManifest(data []byte) (*manifest, error) {
	body, tail, ok := bytes.Cut(data, []byte("\ncrc32c:"))
	if !ok {
		return nil, fmt.Errorf("%w: manifest has no checksum line", ErrCorrupt)
	}
	want, err := strconv.ParseUint(strings.TrimSpace(string(tail)), 16, 32)
	if err != nil || uint32(want) != crc32.Checksum(body, castagnoli) {
		return nil, fmt.Errorf("%w: manifest checksum mismatch", ErrCorrupt)
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("%w: manifest format %d", ErrCorrupt, m.Format)
	}
	return &m, nil
}

// latestManifest returns the manifest with the highest generation, or nil when there is none.
func latestManifest(ctx context.Context, store ObjectStore, prefix string) (*manifest, []uint64, error) {
	gens, err := manifestGenerations(ctx, store, prefix)
	if err != nil {
		return nil, nil, err
	}
	if len(gens) == 0 {
		return nil, nil, nil
	}
	latest := gens[0]
	for _, g := range gens {
		latest = max(latest, g)
	}
	m, err := readManifest(ctx, store, prefix, latest)
	if err != nil {
		return nil, nil, err
	}
	return m, gens, nil
}

// manifestGenerations lists the generations of the manifests stored under prefix.
func manifestGenerations(ctx context.Context, store ObjectStore, prefix string) ([]uint64, error) {
	objs, err := store.List(ctx, path.Join(prefix, "manifests")+"/")
	if err != nil {
		return nil, fmt.Errorf("index: list manifests: %w", err)
	}
	var gens []uint64
	for _, o := range objs {
		if gen, ok := parseManifestKey(prefix, o.Key); ok {
			gens = append(gens, gen)
		}
	}
	return gens, nil
}

// readManifest reads and checks the manifest of generation gen.
func readManifest(ctx context.Context, store ObjectStore, prefix string, gen uint64) (*manifest, error) {
	rc, err := store.Get(ctx, manifestKey(prefix, gen))
	if err != nil {
		return nil, fmt.Errorf("index: read manifest %d: %w", gen, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("index: read manifest %d: %w", gen, err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("index: manifest %d: %w", gen, err)
	}
	return m, nil
}

// sameState reports whether a and b describe the same stored index: the same generation,
// model, segments, covered LSN, source sequence number and tombstones (in any order). NextSeq is left out: it only
// seeds the numbering of segments sealed after a restart, and a retry may carry a later one.
func sameState(a, b *manifest) bool {
	return a.Format == b.Format && a.Generation == b.Generation && a.Model == b.Model && a.Dim == b.Dim &&
		a.CoveredLSN == b.CoveredLSN && a.SourceSeq == b.SourceSeq && slices.Equal(a.Segments, b.Segments) &&
		slices.Equal(slices.Sorted(slices.Values(a.Tombstones)), slices.Sorted(slices.Values(b.Tombstones)))
}

// putManifest writes m as generation m.Generation, create-only.
func putManifest(ctx context.Context, store ObjectStore, prefix string, m *manifest) error {
	data, err := encodeManifest(m)
	if err != nil {
		return err
	}
	err = store.PutIfAbsent(ctx, manifestKey(prefix, m.Generation), bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, blob.ErrExists) {
		return fmt.Errorf("index: manifest generation %d already exists: %w", m.Generation, ErrConcurrentWriter)
	}
	if err != nil {
		return fmt.Errorf("index: write manifest %d: %w", m.Generation, err)
	}
	return nil
}
