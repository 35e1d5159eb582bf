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
// Sealed segments keep their vectors in a local cache file mapped read only, not in the heap:
// a walk on 8-bit codes (Config.Quantized) reads a float32 vector only to rescore its best
// candidates, so resident memory per face is its code, its graph links and its ids, and the
// page cache holds the vectors that are read. A mapping is unmapped once the segment is replaced
// and no search holds a view of it (a runtime cleanup; vecfile.go says why not a count).
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
// Several processes can serve one index (issue 18, Config.SharedLog; follow.go): every write
// comes, in sequence order, from a durable log they share, through Apply, and there is no WAL.
// One writer persists segments and manifests as above, each manifest recording the last log
// sequence number it reflects; followers write nothing, serve the latest manifest's segments
// plus the ops applied since (searched exactly), and Refresh to newer manifests. A writer whose
// manifest finds a newer one written by another is fenced for good (ErrFenced).
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
// Segment object (segments/<seq>-<generation>.seg, or <seq>-<generation>-<writer tag>.seg with
// a shared log, so two writers never write one key), format version 2: three sections, each
// closed by the CRC-32C of its own bytes, so damage is localised. (a) The body: magic
// "FMSEG001", u32 format version, u32 dim, u64 count, u64 seq, u16 model length + model
// identity, ids, galleries, float32 vectors. (b) u64 length + graph bytes (0: no graph). (c) u64
// length + the code block of a quantized graph (index/quant's Codes.WriteTo, with its own
// checksum inside; 0: none). Damage in (a) is ErrCorrupt: the faces exist nowhere else. Damage
// in (b) or (c) (a bad checksum, a cut, codes of another quantizer or count, bytes after the
// end) is logged, what the section held is rebuilt from the vectors (the graph built again, the
// codes encoded again), and the persister writes the object again under a new generation; an
// object without codes that a quantized index reads is rewritten the same way. Version 1
// objects (the body, u64 graph length + graph bytes, one CRC-32C of everything; no codes) are
// still read. A merged segment has the same format and takes the smallest seq of the segments
// it replaces.
//
// Vector cache (<Dir>/vectors/<seq>-<n>.f32, mode 0600): a sealed segment's float32 vectors,
// raw little-endian, mapped read only (vecfile.go). Derived data: written when a segment is
// sealed (before its graph is built), loaded (streamed from the object), compacted or merged;
// removed when the segment is replaced or the index closed, and all of them at Open.
//
// Manifest (manifests/<generation, 20 digits>.json): the model, dim, live segments with their
// counts, the tombstones not yet purged, the last log sequence number it covers and, with a
// shared log, the last sequence number of the shared log it reflects (source_seq, absent: 0);
// a CRC-32C line follows the JSON.
package index
