// Command ageconvert writes face-api.js's age and gender network (AgeGenderNet) as an ONNX
// model from its TensorFlow.js weights. scripts/setup runs it on the weights of npm
// @vladmandic/face-api@1.7.15 and pins the output's sha256: the conversion is deterministic.
//
//	ageconvert --manifest age_gender_model-weights_manifest.json [--weights-dir DIR] --out age_gender_faceapi.onnx
//
// The shards named by the manifest are read from --weights-dir (default: the manifest's
// directory). The model's metadata records the sha256 of the manifest and of each shard.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/models/agegender"
	"github.com/facematch/facematch/models/onnxwrite"
	"github.com/facematch/facematch/models/tfjs"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ageconvert:", err)
		}
		os.Exit(2)
	}
}

// DefaultSource names where the weights come from, for the model's metadata.
const DefaultSource = "npm @vladmandic/face-api@1.7.15 package/model/age_gender_model (MIT)"

func run(_ context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("ageconvert", flag.ContinueOnError)
	fl.SetOutput(stderr)
	manifest := fl.String("manifest", "", "TensorFlow.js weights manifest (JSON) of AgeGenderNet")
	weightsDir := fl.String("weights-dir", "", "directory of the manifest's shards (default: the manifest's directory)")
	out := fl.String("out", "", "ONNX file to write")
	source := fl.String("source", DefaultSource, "where the weights come from, recorded in the model's metadata")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *manifest == "" || *out == "" || fl.NArg() > 0 {
		fl.Usage()
		return errors.New("--manifest and --out are required, and nothing else")
	}
	if *weightsDir == "" {
		*weightsDir = filepath.Dir(*manifest)
	}
	model, err := Convert(*manifest, *weightsDir, *source)
	if err != nil {
		return err
	}
	return writeAtomically(*out, model)
}

// Convert reads the weights and returns the ONNX model's bytes.
func Convert(manifestPath, weightsDir, source string) ([]byte, error) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, err
	}
	groups, err := tfjs.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	meta := []onnxwrite.KeyValue{
		{Key: "source", Value: source},
		{Key: "converter", Value: "facematch cmd/ageconvert (models/agegender)"},
		{Key: "weights_manifest_sha256", Value: sha(data)},
	}
	dir := os.DirFS(weightsDir)
	w, err := tfjs.Decode(groups, func(p string) ([]byte, error) {
		b, err := fs.ReadFile(dir, p)
		if err == nil {
			meta = append(meta, onnxwrite.KeyValue{Key: "weights_shard_sha256:" + p, Value: sha(b)})
		}
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	net, err := agegender.New(w)
	if err != nil {
		return nil, err
	}
	return net.ONNX(meta)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeAtomically writes through a temporary file in the same directory, so a half-written
// model is never in place.
func writeAtomically(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
