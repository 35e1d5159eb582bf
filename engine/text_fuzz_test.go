package engine_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/facematch/facematch/engine"
)

// FuzzCleanText feeds the checks of names, free text and phone numbers (every one reads what a
// client sends) arbitrary strings: none panics, and what one accepts it accepts again unchanged
// (normalising twice is normalising once), within its limits, with no control character left.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"reviewer1", "reviewer1\u200b", "Katy  Perry ", "\x00", "a\x1b[31mb", "ｒｅｖｉｅｗｅｒ", "rеviewer",
		"\u202eevil", "line\r\nbreak", "e\u0301", "\u0301e", "+49 (0) 170-123 4567", "٠١٧٠١٢٣٤٥٦٧", "00", "+", "\xff\xfe", strings.Repeat("x", 200),
		"five5five-O12-3456", "5️⃣5️⃣5️⃣ ①②③", "555 dot 123 * 4567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		noControl := func(out string, allow string) {
			for _, r := range out {
				if unicode.Is(unicode.Cc, r) && !strings.ContainsRune(allow, r) {
					t.Fatalf("%q kept control character %U", out, r)
				}
			}
		}
		if out, err := engine.CleanName("name", s); err == nil {
			if !utf8.ValidString(out) || out == "" || utf8.RuneCountInString(out) > engine.MaxNameLen {
				t.Fatalf("CleanName(%q) = %q", s, out)
			}
			if again, err := engine.CleanName("name", out); err != nil || again != out {
				t.Fatalf("CleanName(%q) = %q, then %q, %v", s, out, again, err)
			}
			noControl(out, "")
		}
		if out, err := engine.CleanCredentialName(s); err == nil {
			if again, err := engine.CleanCredentialName(out); err != nil || again != out {
				t.Fatalf("CleanCredentialName(%q) = %q, then %q, %v", s, out, again, err)
			}
		}
		for _, multiline := range []bool{false, true} {
			if out, err := engine.CleanText("note", s, 100, multiline); err == nil {
				if utf8.RuneCountInString(out) > 100 {
					t.Fatalf("CleanText(%q) = %q, over the limit", s, out)
				}
				if again, err := engine.CleanText("note", out, 100, multiline); err != nil || again != out {
					t.Fatalf("CleanText(%q, %v) = %q, then %q, %v", s, multiline, out, again, err)
				}
				allow := ""
				if multiline {
					allow = "\n\t"
				}
				noControl(out, allow)
			}
		}
		if out, err := engine.NormalizePhone(s); err == nil {
			if out == "" {
				t.Fatalf("NormalizePhone(%q) accepted an empty number", s)
			}
			if again, err := engine.NormalizePhone(out); err != nil || again != out {
				t.Fatalf("NormalizePhone(%q) = %q, then %q, %v", s, out, again, err)
			}
		}
	})
}
