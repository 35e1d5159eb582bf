package blob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on keys. S3 caps object names at 1024 bytes; file systems cap a name at 255 bytes.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// ValidateKey reports whether key follows the namespace rules in the package documentation.
// The error wraps ErrInvalidKey and says what is wrong.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w %q: empty", ErrInvalidKey, key)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix can be given to List: "" (everything), or a key, or a
// key followed by "/", or a key whose last segment is cut short ("segments/00"). The error
// wraps ErrInvalidKey.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkChars(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	if last := segs[len(segs)-1]; last == "" {
		segs = segs[:len(segs)-1] // "a/b/": the trailing slash is allowed in a prefix
	}
	for _, seg := range segs {
		if err := checkSegment(prefix, seg); err != nil {
			return err
		}
	}
	return nil
}

func checkChars(s string) error {
	if len(s) > MaxKeyLen {
		return fmt.Errorf("%w %.40q...: %d bytes, more than %d", ErrInvalidKey, s, len(s), MaxKeyLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidKey, s)
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("%w %q: starts with \"/\" (keys are relative)", ErrInvalidKey, s)
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w %q: control character %U", ErrInvalidKey, s, r)
		case r == '\\':
			return fmt.Errorf("%w %q: backslash (the separator is \"/\")", ErrInvalidKey, s)
		}
	}
	return nil
}

func checkSegment(s, seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("%w %q: empty segment (leading, trailing or double \"/\")", ErrInvalidKey, s)
	case seg == "." || seg == "..":
		return fmt.Errorf("%w %q: %q segment", ErrInvalidKey, s, seg)
	case strings.HasPrefix(seg, "."):
		return fmt.Errorf("%w %q: segment %q starts with \".\" (reserved for stores' own files)", ErrInvalidKey, s, seg)
	case len(seg) > MaxSegmentLen:
		return fmt.Errorf("%w %q: segment of %d bytes, more than %d", ErrInvalidKey, s, len(seg), MaxSegmentLen)
	}
	return nil
}
