package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRefusesMissingFlags(t *testing.T) {
	for _, args := range [][]string{nil, {"--manifest", "m.json"}, {"--out", "x.onnx"}, {"--manifest", "m", "--out", "o", "extra"}} {
		var stderr bytes.Buffer
		if err := run(context.Background(), args, &stderr); err == nil || !strings.Contains(stderr.String(), "-manifest") {
			t.Errorf("run(%q) = %v, stderr %q; want an error and the usage", args, err, stderr.String())
		}
	}
}

func TestRunReportsBadWeights(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.json")
	if err := os.WriteFile(manifest, []byte(`[{"paths":["w.bin"],"weights":[{"name":"a","shape":[2],"dtype":"float32"}]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	err := run(context.Background(), []string{"--manifest", manifest, "--out", out}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "entry_flow/conv_in/filters") {
		t.Fatalf("err = %v, want it to name the first missing tensor", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("an output was written: %v", err)
	}
	err = run(context.Background(), []string{"--manifest", manifest, "--weights-dir", t.TempDir(), "--out", out}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "w.bin") {
		t.Fatalf("err = %v, want it to name the missing shard", err)
	}
}
