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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/facematch/facematch/models/agegender"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ageconvert:", err)
		}
		os.Exit(2)
	}
}

func run(_ context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("ageconvert", flag.ContinueOnError)
	fl.SetOutput(stderr)
	manifest := fl.String("manifest", "", "TensorFlow.js weights manifest (JSON) of AgeGenderNet")
	weightsDir := fl.String("weights-dir", "", "directory of the manifest's shards (default: the manifest's directory)")
	out := fl.String("out", "", "ONNX file to write")
	source := fl.String("source", agegender.Source, "where the weights come from, recorded in the model's metadata")
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
	data, err := os.ReadFile(*manifest)
	if err != nil {
		return err
	}
	model, err := agegender.Convert(data, os.DirFS(*weightsDir), *source)
	if err != nil {
		return fmt.Errorf("%s: %w", *manifest, err)
	}
	return writeAtomically(*out, model)
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
