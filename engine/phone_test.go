package engine

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"+49 151 1234 5678", "+4915112345678", ""},
		{"0049-151-12345678", "+4915112345678", ""},
		{"00 49 151 12345678", "+4915112345678", ""},
		{"+49 (0) 170-123 4567", "+491701234567", ""}, // the national prefix in brackets goes
		{"+44 (0)20 7946 0958", "+442079460958", ""},
		// The prefix goes once: a number that would lose a digit again when read back is none
		// (found by FuzzCleanText).
		{"+4900000000", "", "not a possible number"},
		{"+1 (555) 123-4567", "+15551234567", ""},
		{"(555) 123-4567", "5551234567", ""}, // no country: digits as written
		{"0170 123 4567", "01701234567", ""},
		{"٠١٧٠١٢٣٤٥٦٧", "01701234567", ""},        // Arabic-Indic digits
		{"۰۰۴۹۱۷۰۱۲۳۴۵۶۷", "+491701234567", ""},   // extended Arabic-Indic, 00 prefix
		{"＋４９ １７０ １２３４５６７", "+491701234567", ""},  // full-width plus and digits
		{"+४९ १७० १२३ ४५६७", "+491701234567", ""}, // Devanagari
		{"abc", "", "has no digits"},
		{"+", "", "has no digits"},
		{"00", "", "has no digits after the +"},
		{"", "", "has no digits"},
		{"+0 123", "", "no country code"},
		{"+49 170", "", "too short for country code +49"},
		{"+4917012345678901234567890123", "", "too long"},
		{"1234567890123456789012345678", "", "has 28 digits"},
		{"12", "", "has 2 digits"},
		{"+49 170 CALL ME", "", `contains 'm'`},
		{"+49 170 1234567 ext. 5", "", `contains 'e'`},
		// Obfuscated as ads write them.
		{"five five five one two three four five six seven", "5551234567", ""},
		{"FIVE5five-123-4567", "5551234567", ""},
		{"555.O12.3456", "5550123456", ""},
		{"555 dot 123 dot 4567", "5551234567", ""},
		{"5️⃣5️⃣5️⃣ 1️⃣2️⃣3️⃣ 4️⃣5️⃣6️⃣7️⃣", "5551234567", ""},
		{"⑤⑤⑤-①②③-④⑤⑥⑦", "5551234567", ""},
		{"+1 555*123*4567", "+15551234567", ""},
		{"cinco cinco cinco uno dos tres cuatro cinco seis siete", "5551234567", ""},
		{"Tel: +49 151 1234 5678", "+4915112345678", ""},
		{"call me", "", `"call me" (read as "me") has no digits`},
		{"dot dash dot", "", "has no digits"},
		{"oh", "", `(read as "0") has 1 digits`},
		{"1+2", "", `contains '+'`},
		{strings.Repeat("1", 161), "", "longer than 160 bytes"},
	}
	for _, tc := range tests {
		got, err := NormalizePhone(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) || got != ""):
			t.Errorf("NormalizePhone(%q) = %q, %v; want an ErrInvalid containing %q", tc.in, got, err, tc.err)
		}
		if err == nil {
			if again, err := NormalizePhone(got); err != nil || again != got {
				t.Errorf("NormalizePhone(%q) is not stable: %q, %v", got, again, err)
			}
		}
	}
}

// digitValue relies on every range of Unicode's Nd table being whole runs of ten digits.
func TestDecimalDigitRanges(t *testing.T) {
	for _, r := range unicode.Nd.R16 {
		if r.Stride != 1 || (r.Hi-r.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d", r.Lo, r.Hi, r.Stride)
		}
	}
	for _, r := range unicode.Nd.R32 {
		if r.Stride != 1 || (r.Hi-r.Lo+1)%10 != 0 {
			t.Errorf("Nd range %U-%U stride %d", r.Lo, r.Hi, r.Stride)
		}
	}
}
