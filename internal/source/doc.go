// Package source implements engine.JobSource, the places a batch ingest job reads photos
// from, and reads the metadata sidecars that say where those photos came from.
//
// # Sources
//
//   - [Dir]: a local directory tree, walked in lexical order (filepath.WalkDir order).
//   - [S3]: every object under a prefix of a bucket, in S3's lexical key order.
//   - [Archive] and [File]: a zip, tar or tar.gz archive, recognised by its first bytes, never
//     by its name. Zip needs random access, so a zip that is not a local file is spooled to a
//     temporary file that Close removes; tar and tar.gz are streamed again on every Files call.
//   - [Open] picks one of these from a job's spec: "s3://bucket/prefix", a directory or an
//     archive file.
//
// Every source lists the same files in the same order on every call, so a job can resume by
// name. Names are slash-separated, cleaned and relative to the source's root, and unique
// within a source (a second archive entry of the same name is listed as refused, under the
// name with "#" and its entry number added). Hidden entries (a path element starting with
// '.', or "__MACOSX") are skipped silently, as are directories and S3 directory markers.
//
// # Hostile input
//
// The contents of a source are not trusted; only its root (the directory, bucket or archive
// the operator named) is. Nothing a source lists can make it read or write outside that root:
//
//   - symbolic links are never followed, and neither links, devices, sockets and pipes nor
//     archive entries whose names are absolute or climb out of the root ("../x") are read:
//     they are listed with SourceFile.Refused saying why, so the job reports them;
//   - a directory entry is opened through an os.Root and checked to be the regular file that
//     was listed, so a file swapped for a link between listing and reading is refused;
//   - archives are never extracted: the only file written is the zip spool;
//   - declared sizes are hints. Open returns the raw, decompressed stream and reads nothing
//     ahead, so a zip bomb costs only what the consumer chooses to read;
//   - a truncated or corrupt tar or tar.gz yields the entries read before the damage, then an
//     error (a zip, whose directory is at its end, fails in Archive); a tar.gz is read to the
//     end of its gzip stream, so a missing trailer is caught too;
//   - listings check their context between entries, and S3 listings are always drained.
//
// Metadata sidecars ([ReadMeta]) are JSON or CSV files mapping file names to engine.Source
// records. They are size- and entry-capped and strict: an unknown field or column, a
// duplicate file or a bad date is an error naming the entry or line.
package source
