// Package index will hold the vector index: a concurrency-safe, segmented wrapper over
// coder/hnsw with its segments in object storage. It is specified by issue 3 and not built yet;
// embeddings it will store come from package models, each tagged with its model identity.
package index
