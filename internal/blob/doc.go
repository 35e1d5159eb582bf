// Package blob defines the object store that facematch keeps its index segments, manifests and
// (later) original photos in, and the contract every backend meets.
//
// # Philosophy
//
// The engine and the index see one small interface, [Store]; a backend is an adapter in its own
// subpackage (local: a directory tree; s3: any S3 server through minio-go) that keeps its driver
// types to itself. One conformance suite, blobtest.RunStoreTests, runs against every backend, so
// "works on local" means "works on S3".
//
// # Key namespace
//
// A key is a slash-separated relative path such as "segments/0001/graph.bin": never empty, never
// starting or ending with "/", with no empty segment ("a//b"), no "." or ".." segment, no
// segment starting with "." (reserved for a backend's own files, such as local's temporary
// files), no backslash, no control character, valid UTF-8, at most 1024 bytes and 255 bytes per
// segment. [ValidateKey] checks this; every Store method refuses a bad key with an error
// wrapping [ErrInvalidKey] before touching the backend. A backend sees keys relative to its own
// root (s3's Config.Prefix is prepended inside the adapter), so a key never needs conversion.
//
// A key must not also be a directory of other keys: with "a/b" stored, do not store "a". S3
// allows both, but a file system (local, and S3 gateways backed by one) cannot; build keys so
// that leaves carry a name of their own ("a/manifest.json", "a/seg-0001.bin").
//
// # Errors
//
// Methods return errors prefixed with the backend and operation ("s3: get k: ..."), wrapping
// the original cause and one of the sentinels below, so callers branch with errors.Is:
//
//   - [ErrNotFound]: Get of a missing key (reported by Get itself, never later by Read).
//   - [ErrExists]: PutIfAbsent found the key present, or lost the race to another writer.
//   - [ErrUnavailable]: the store could not be reached or answered with a server-side failure
//     (connection refused or reset, timeout, HTTP 5xx, SlowDown). Retry later; a failed write
//     was not half-applied: readers see the old object or none.
//   - [ErrInvalidKey]: the key or list prefix breaks the namespace rules above.
//   - context.Canceled / context.DeadlineExceeded: the caller's context ended.
//
// Deleting a missing key is not an error. A body shorter than the size given to Put fails
// with an error wrapping io.ErrUnexpectedEOF and stores nothing.
package blob
