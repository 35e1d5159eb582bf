// Package index answers "which stored faces are most similar to this one", never loses an
// acknowledged face, and keeps its data in object storage so that more machines can serve it.
//
// # Philosophy
//
// The embeddings are the source of truth; the graphs are derived and can always be rebuilt.
// Every insert and delete is written to a local write-ahead log and fsynced before the call
// returns. New faces go to a growing segment that is searched exactly; a full segment is sealed,
// its graph built in the background, and it is written to object storage as an immutable,
// checksummed object. A small manifest, written after the segments it names, says which
// segments are live. Restart = latest manifest + its segments + the log since.
//
// # Workflow
//
//	Add/Delete → WAL (fsync) → growing segment / tombstone
//	growing full → sealed (searched exactly until its graph is built)
//	persister: build graph → put segment object → put manifest (generation n+1, create-only)
//	           → drop the WAL files the manifest covers
//	Compact: rewrite segments without tombstoned faces → manifest → delete the old objects
//	Merge (persister, when MergeFactor persisted segments share a size tier): copy their live
//	       faces into one segment (tombstoned ones dropped) → build its graph → put the object
//	       → read it back through its checksum → manifest → delete the replaced objects
//	Search: fan out over segments (graph or exact), filter by gallery and tombstones, merge
//
// Merging is size-tiered: a segment of n faces is in tier round(log_F(n/SegmentSize)), F being
// MergeFactor (default 10), and the F oldest segments of the lowest full tier merge, so a
// gallery of 100k-face segments becomes 1M, then 10M segments, and a query walks about one graph
// per tier instead of one per 100k faces. The merged graph is built whole (the graph package
// cannot extend a built graph), on the persister goroutine: searches read the old segments until
// the manifest switch, writes go on to the WAL, and segments sealed meanwhile are searched
// exactly until the merge is done and they are persisted. A merge that cannot be published (the
// store is down, its read-back failed) keeps what it built and is retried with the persister's
// backoff. A crash at any point leaves the previous manifest valid: the merged object is an
// orphan until a manifest names it, and the replaced objects are orphans once one does;
// dropOrphanSegments removes either at a later manifest. Faces deleted while a merge runs stay
// in the merged segment under their tombstones, for the next compaction.
//
// # Key types
//
// [Index] is the whole thing; [ObjectStore] is what it needs from object storage; [Config]
// tunes it.
//
// # Formats
//
// WAL record: u32 body length, u32 CRC-32C of body, body = u8 kind, u64 log sequence number,
// then by kind: an insert (1) u64 id, u64 gallery and dim little-endian float32s; a delete
// batch (3) u32 count and that many u64 ids (up to 65,536: a larger DeleteBatch writes several
// records in its one fsynced append); a single delete (2, written before issue 13 and still
// replayed) u64 id. A torn or corrupt tail (a crash mid-write) ends replay; everything before
// it was acknowledged and is kept. A binary older than kind 3 stops replay at the first one.
//
// Segment object (segments/<seq>-<generation>.seg): magic "FMSEG001", u32 format version, u32
// dim, u64 count, u64 seq, u16 model length + model identity, ids, galleries, vectors, u64
// graph length + graph bytes, u32 CRC-32C of everything before it. A merged segment has the same
// format and takes the smallest seq of the segments it replaces.
//
// Manifest (manifests/<generation, 20 digits>.json): the model, dim, live segments with their
// counts, the tombstones not yet purged, and the last log sequence number it covers; a CRC-32C
// line follows the JSON.
package index
