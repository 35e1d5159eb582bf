package agegender

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/facematch/facematch/models/onnxwrite"
	"github.com/facematch/facematch/models/tfjs"
)

// Source is where facematch's age model comes from, as recorded in its metadata.
const Source = "npm @vladmandic/face-api@1.7.15 package/model/age_gender_model (MIT)"

// Convert builds the ONNX model from a TensorFlow.js weights manifest and the fs.FS holding
// its shards. The model's metadata records source and the sha256 of the manifest and of each
// shard, so the file says which bytes it was made from; the same inputs give the same bytes.
func Convert(manifest []byte, shards fs.FS, source string) ([]byte, error) {
	groups, err := tfjs.ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	meta := []onnxwrite.KeyValue{
		{Key: "source", Value: source},
		{Key: "converter", Value: "facematch models/agegender (cmd/ageconvert)"},
		{Key: "weights_manifest_sha256", Value: sha(manifest)},
	}
	w, err := tfjs.Decode(groups, func(p string) ([]byte, error) {
		b, err := fs.ReadFile(shards, p)
		if err == nil {
			meta = append(meta, onnxwrite.KeyValue{Key: "weights_shard_sha256:" + p, Value: sha(b)})
		}
		return b, err
	})
	if err != nil {
		return nil, err
	}
	net, err := New(w)
	if err != nil {
		return nil, err
	}
	b, err := net.ONNX(meta)
	if err != nil {
		return nil, fmt.Errorf("agegender: %w", err)
	}
	return b, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
