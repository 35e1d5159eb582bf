package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"wanted persons", "wanted persons", ""},
		{"  Ame\u0301lie   Dupont ", "Amélie Dupont", ""}, // NFC, trimmed, spaces collapsed
		{"Ольга Петрова", "Ольга Петрова", ""},
		{"محمد", "محمد", ""},
		{"O'Brien-Smith (2)", "O'Brien-Smith (2)", ""},
		{strings.Repeat("é", MaxNameLen), strings.Repeat("é", MaxNameLen), ""},
		{strings.Repeat("é", MaxNameLen+1), "", "longer than 100 characters"},
		{"", "", "name is required"},
		{" \u0020 ", "", "name is required"},
		{"a\x00b", "", "control character (U+0000)"},
		{"a\x1b[31m", "", "control character (U+001B)"},
		{"a\nb", "", "control character (U+000A)"},
		{"a\tb", "", "control character (U+0009)"},
		{"a\u0085b", "", "control character (U+0085)"},
		{"reviewer1\u200b", "", "invisible or formatting character (U+200B)"},
		{"a\u200db", "", "invisible or formatting character (U+200D)"},
		{"\ufeffa", "", "invisible or formatting character (U+FEFF)"},
		{"\u202eabc", "", "invisible or formatting character (U+202E)"},
		{"a\u2066b", "", "invisible or formatting character (U+2066)"},
		{"a\u00adb", "", "invisible or formatting character (U+00AD)"}, // soft hyphen
		{"a\u3164b", "", "invisible or formatting character (U+3164)"}, // Hangul filler
		{"a\ufe0f", "", "invisible or formatting character (U+FE0F)"},
		{"a\u00a0b", "", "space other than U+0020 (U+00A0)"},
		{"a\u2003b", "", "space other than U+0020 (U+2003)"},
		{"a\u2028b", "", "space other than U+0020 (U+2028)"},
		{"a\ue000", "", "private-use character (U+E000)"},
		{"a\U000e0041", "", "invisible or formatting character"}, // tag character
		{"a\u0378", "", "unassigned character (U+0378)"},
		{"\u0301a", "", "starts with a combining mark"},
		{"a\xff", "", "not valid UTF-8"},
		{"a\ufffd", "", "replacement character, left by text that was not valid UTF-8, (U+FFFD)"},
	}
	for _, tc := range tests {
		got, err := CleanName("name", tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("CleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CleanName(%q) = %q, %v; want an ErrInvalid containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestCleanCredentialName(t *testing.T) {
	tests := []struct{ in, err string }{
		{"reviewer-2", ""},
		{"Анна", ""},
		{"山田たろう", ""}, // Han with Hiragana is one writing
		{"rеviewer", "mixes scripts (Latin, Cyrillic)"},
		{"cli:root", "must not contain ':'"},
		{"Anonymous", "the service uses itself"},
		{"bootstrap", "the service uses itself"},
		{"ａｎｏｎｙｍｏｕｓ", "the service uses itself"},
	}
	for _, tc := range tests {
		_, err := CleanCredentialName(tc.in)
		if (tc.err == "") != (err == nil) || (err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err))) {
			t.Errorf("CleanCredentialName(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
	if NameKey("ｒｅｖｉｅｗｅｒ") != NameKey("Reviewer") {
		t.Error("full-width and capitalised names have different keys")
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		in        string
		max       int
		multiline bool
		want, err string
	}{
		{"  case 17 ", 10, false, "case 17", ""},
		{"line one\r\nline two\ttab", 100, true, "line one\nline two\ttab", ""},
		{"مرحبا\u200f abc", 100, false, "مرحبا\u200f abc", ""}, // a right-to-left mark is kept
		{"अक्\u200dष", 100, false, "अक्\u200dष", ""},           // joiners write some scripts
		{"a\nb", 100, false, "", "control character (U+000A)"},
		{"a\tb", 100, false, "", "control character (U+0009)"},
		{"a\u2028b", 100, false, "", "control character (U+2028)"},
		{"a\x00b", 100, true, "", "control character (U+0000)"},
		{"a\x1b[2J", 100, true, "", "control character (U+001B)"},
		{"a\rb", 100, true, "", "control character (U+000D)"},
		{"abc\u202edcba", 100, true, "", "bidirectional control character (U+202E)"},
		{"abcdefghijk", 10, false, "", "longer than 10 characters (11)"},
		{"\xff", 10, false, "", "not valid UTF-8"},
	}
	for _, tc := range tests {
		got, err := CleanText("purpose", tc.in, tc.max, tc.multiline)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("CleanText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "purpose ")):
			t.Errorf("CleanText(%q) = %q, %v; want an ErrInvalid containing %q", tc.in, got, err, tc.err)
		}
	}
}

func TestCleanSource(t *testing.T) {
	src, err := CleanSource(Source{URL: " https://ads.example/1 ", Site: "ads", Usernames: []string{"kat", " kat ", "", "kitty"},
		Phones: []string{"+49 (0) 170-123 4567", "", "0049 170 1234567", "0170 1234567"}, CaseRef: "OP-1"})
	if err != nil {
		t.Fatal(err)
	}
	if src.URL != "https://ads.example/1" || strings.Join(src.Usernames, ",") != "kat,kitty" || strings.Join(src.Phones, ",") != "+491701234567,01701234567" {
		t.Errorf("cleaned: %+v", src)
	}
	many := make([]string, MaxListLen+1)
	for i := range many {
		many[i] = strings.Repeat("u", i+1)
	}
	bad := []struct {
		src Source
		err string
	}{
		{Source{URL: "https://x/" + strings.Repeat("a", MaxURLBytes)}, "source_url is longer than 2048 bytes"},
		{Source{Site: strings.Repeat("s", MaxRefLen+1)}, "site is longer than 200 characters"},
		{Source{AdID: "1\n2"}, "ad_id contains a control character"},
		{Source{CaseRef: "OP\x00"}, "case_ref contains a control character"},
		{Source{Usernames: []string{"ok", "bad\x1b"}}, "usernames: item 2: username contains a control character"},
		{Source{Usernames: many}, "usernames: more than 50 distinct values"},
		{Source{Phones: []string{"abc"}}, `phones: "abc" has no digits`},
		{Source{Phones: []string{"00"}}, `phones: "00" has no digits after the +`},
	}
	for _, tc := range bad {
		if _, err := CleanSource(tc.src); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CleanSource(%+.60v) = %v, want %q", tc.src, err, tc.err)
		}
	}
}

func TestDistinctIDs(t *testing.T) {
	ids := make([]int64, 1_000_000)
	for i := range ids {
		ids[i] = 7
	}
	got, err := DistinctIDs("galleries", append(ids, 3, 7), 10)
	if err != nil || len(got) != 2 || got[0] != 7 || got[1] != 3 {
		t.Errorf("DistinctIDs = %v, %v", got, err)
	}
	if _, err := DistinctIDs("galleries", []int64{1, 2, 3}, 2); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than 2 distinct") {
		t.Errorf("DistinctIDs over the cap: %v", err)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                     nil,
		" , ;| ":               nil,
		"anna":                 {"anna"},
		"anna, bella":          {"anna", "bella"},
		"anna;bella|cleo,dora": {"anna", "bella", "cleo", "dora"},
		" +44 7700 900123 ; ":  {"+44 7700 900123"},
	} {
		if got := SplitList(in); !slices.Equal(got, want) {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}
