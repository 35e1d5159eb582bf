package engine

import (
	"context"
	"io"
)

// SourceFile is one file of an ingest source.
type SourceFile struct {
	// Name is the file's path below the source root, slash-separated and cleaned ("a/b.jpg"):
	// the key a job resumes by and the key metadata sidecars use.
	Name string
	// Size is the file's size in bytes as the source states it, -1 when unknown. It is a hint
	// (an archive header may lie): readers still stop at the limit.
	Size int64
	// Refused, when set, says why the source will not read this entry (a symbolic link, a
	// device, a name escaping the root): the job lists it as failed with this reason.
	Refused string
	// Open reads the file. Streaming sources (tar) allow it only inside the Files callback.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// JobSource is where an ingest job's photos come from: a directory tree, an S3 prefix or an
// archive (internal/source implements them).
type JobSource interface {
	// Files calls fn for every file, in the same order on every call, and stops at the first
	// error fn returns (which Files returns). A source that breaks part-way (a truncated
	// archive, an unreachable bucket) returns its error after the files it could list.
	Files(ctx context.Context, fn func(SourceFile) error) error
	Close() error
}
