package s3

import "github.com/minio/minio-go/v7"

// Internals for the external tests in package s3_test (which import s3test, itself an importer
// of this package, so they cannot live in package s3).

var MapErr = mapErr

// Client is the store's own minio-go client, to act behind the store's back.
func (s *Store) Client() *minio.Client { return s.client }

// BucketName is the store's bucket.
func (s *Store) BucketName() string { return s.bucket }

// ObjectName is the raw object name of key (Config.Prefix added).
func (s *Store) ObjectName(key string) string { return s.object(key) }
