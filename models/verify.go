package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// LoadVerified reads a model file and checks its sha256 against the manifest, so the bytes
// handed to ONNX Runtime are exactly the bytes that were verified.
func LoadVerified(path, wantSHA256 string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != wantSHA256 {
		return nil, fmt.Errorf("models: %s: sha256 %s, want %s: %w", path, got, wantSHA256, ErrChecksum)
	}
	return data, nil
}
