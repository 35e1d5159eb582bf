package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key  string
		want string // "" for valid, else a substring of the message
	}{
		{"a", ""},
		{"segments/0001/graph.bin", ""},
		{"photos/2024/x y+z=é.jpg", ""},
		{"a.b/c..d/e.", ""},
		{strings.Repeat("a", 255) + "/b", ""},
		{"", "empty"},
		{"/a", "starts with"},
		{"a/", "empty segment"},
		{"a//b", "empty segment"},
		{".", "\".\" segment"},
		{"..", "\"..\" segment"},
		{"a/../b", "\"..\" segment"},
		{"./a", "\".\" segment"},
		{".hidden", "starts with \".\""},
		{"a/.tmp-123", "starts with \".\""},
		{"a\x00b", "control character"},
		{"a\nb", "control character"},
		{"a\\b", "backslash"},
		{"a\xffb", "UTF-8"},
		{strings.Repeat("a", 256), "segment of 256 bytes"},
		{strings.Repeat("a/", 512) + "a", "more than 1024"},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateKey(%q) = %v, want nil", tt.key, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidateKey(%q) = nil, want error containing %q", tt.key, tt.want)
		case tt.want != "" && (!errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey containing %q", tt.key, err, tt.want)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b", true},
		{"segments/00", true},
		{"/", false},
		{"/a", false},
		{"a//", false},
		{"../", false},
		{"a/./", false},
		{".t", false},
		{"a\\", false},
	}
	for _, tt := range tests {
		err := ValidatePrefix(tt.prefix)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidKey)) {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
		}
	}
}
