package engine

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits of the text a request may store. What passes is kept in the catalog and, much of it,
// in the append-only audit log, which nothing can shrink afterwards: every field is bounded
// here, at the engine's boundary, whoever calls (API, command line, ingest sidecars).
const (
	// MaxNameLen is the longest name of a credential, gallery or subject, in characters: long
	// enough for a person's full name, short enough to read in an audit line.
	MaxNameLen = 100
	// MaxPurposeLen bounds a search's or job's purpose (a reason or case reference).
	MaxPurposeLen = 500
	// MaxNoteLen bounds a decision's note and a subject's notes, the only multi-line text.
	MaxNoteLen = 4000
	// MaxRefLen bounds short references: external_ref, case_ref, site, ad_id, a model name.
	MaxRefLen = 200
	// MaxURLBytes bounds a source URL and a job's source, in bytes.
	MaxURLBytes = 2048
	// MaxUsernameLen bounds one username of an ad.
	MaxUsernameLen = 100
	// MaxListLen is the most distinct usernames, or phones, of one photo.
	MaxListLen = 50
	// MaxGalleries is the most distinct galleries one search or job names.
	MaxGalleries = 1000
)

// reservedNames are actor names the service writes itself into the audit log: no credential
// may take one.
var reservedNames = []string{"anonymous", "bootstrap", "bench"}

// CleanName checks and normalises the name of a credential, gallery or subject: NFC, spaces
// trimmed and runs of spaces collapsed, at most MaxNameLen characters, and nothing a reader
// cannot see or tell apart: no control, formatting (zero-width, bidi, BOM), default-ignorable,
// private-use or unassigned characters, no space but U+0020, no leading combining mark.
func CleanName(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8: %w", field, ErrInvalid)
	}
	s = strings.Join(strings.FieldsFunc(norm.NFC.String(s), func(r rune) bool { return r == ' ' }), " ")
	if s == "" {
		return "", fmt.Errorf("%s is required: %w", field, ErrInvalid)
	}
	if n := utf8.RuneCountInString(s); n > MaxNameLen {
		return "", fmt.Errorf("%s is longer than %d characters (%d): %w", field, MaxNameLen, n, ErrInvalid)
	}
	for i, r := range s {
		if why := unseen(r); why != "" {
			return "", fmt.Errorf("%s contains %s (U+%04X): %w", field, why, r, ErrInvalid)
		}
		if i == 0 && unicode.In(r, unicode.Mn, unicode.Me) {
			return "", fmt.Errorf("%s starts with a combining mark (U+%04X): %w", field, r, ErrInvalid)
		}
	}
	return s, nil
}

// unseen says why r has no place in a name ("" when it has one).
func unseen(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case r != ' ' && unicode.IsSpace(r), unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp) && r != ' ':
		return "a space other than U+0020"
	case unicode.Is(unicode.Cf, r), unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
		return "an invisible or formatting character"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case r == utf8.RuneError:
		return "a replacement character, left by text that was not valid UTF-8,"
	case !unicode.IsGraphic(r):
		return "an unassigned character"
	}
	return ""
}

// CleanCredentialName is CleanName for a credential, whose name is an actor of the audit log,
// with stricter rules: one script (plus digits and punctuation), so that a Cyrillic "е" cannot
// stand in for a Latin "e"; no ':' (the service's own actors are "cli:USER"); not a name the
// service uses itself.
func CleanCredentialName(s string) (string, error) {
	s, err := CleanName("name", s)
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(s, ':') {
		return "", fmt.Errorf("name must not contain ':' (the service's own actors do): %w", ErrInvalid)
	}
	if slices.Contains(reservedNames, NameKey(s)) {
		return "", fmt.Errorf("name %q is one the service uses itself in the audit log: %w", s, ErrInvalid)
	}
	if scripts := scriptsOf(s); len(scripts) > 1 {
		return "", fmt.Errorf("name mixes scripts (%s): a credential's name is written in one: %w", strings.Join(scripts, ", "), ErrInvalid)
	}
	return s, nil
}

// NameKey is what two names that a reader could take for each other have in common: their
// compatibility form (full-width letters become ASCII), case-folded. Credentials with the same
// key are refused as look-alikes.
func NameKey(s string) string { return strings.ToLower(norm.NFKC.String(s)) }

// scripts a letter may be written in; letters of other scripts count as "other".
var scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Greek", unicode.Greek}, {"Cyrillic", unicode.Cyrillic}, {"Armenian", unicode.Armenian},
	{"Hebrew", unicode.Hebrew}, {"Arabic", unicode.Arabic}, {"Devanagari", unicode.Devanagari}, {"Thai", unicode.Thai},
	{"Georgian", unicode.Georgian}, {"Hangul", unicode.Hangul}, {"Han", unicode.Han}, {"Hiragana", unicode.Hiragana},
	{"Katakana", unicode.Katakana},
}

// scriptsOf lists the scripts of s's letters, Han, Hiragana and Katakana counting as one
// (Japanese writes them together).
func scriptsOf(s string) []string {
	var out []string
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		name := "other"
		for _, sc := range scripts {
			if unicode.Is(sc.table, r) {
				name = sc.name
				break
			}
		}
		if name == "Han" || name == "Hiragana" || name == "Katakana" {
			name = "Han/Kana"
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// CleanText checks and normalises free text: NFC, trimmed, at most max characters, no control
// characters (multiline text keeps newlines and tabs; CRLF becomes LF), no bidirectional
// embedding, override or isolate controls (they reorder what a reader sees). Empty is allowed:
// callers that need a value say so.
func CleanText(field, s string, max int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8: %w", field, ErrInvalid)
	}
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if n := utf8.RuneCountInString(s); n > max {
		return "", fmt.Errorf("%s is longer than %d characters (%d): %w", field, max, n, ErrInvalid)
	}
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case unicode.Is(unicode.Cc, r), !multiline && (r == '\u2028' || r == '\u2029'):
			return "", fmt.Errorf("%s contains a control character (U+%04X): %w", field, r, ErrInvalid)
		case isBidiControl(r):
			return "", fmt.Errorf("%s contains a bidirectional control character (U+%04X): %w", field, r, ErrInvalid)
		}
	}
	return s, nil
}

// isBidiControl: the embeddings, overrides and isolates (marks such as U+200F are kept: they
// reorder nothing by themselves and right-to-left text needs them).
func isBidiControl(r rune) bool { return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) }

// cleanURL is single-line text of at most MaxURLBytes bytes.
func cleanURL(field, s string) (string, error) {
	if len(s) > MaxURLBytes {
		return "", fmt.Errorf("%s is longer than %d bytes (%d): %w", field, MaxURLBytes, len(s), ErrInvalid)
	}
	return CleanText(field, s, MaxURLBytes, false)
}

// maxListItems bounds the values of one list read before cleaning (repeats included): each phone
// costs a parse, and a hostile cell of commas must not cost thousands.
const maxListItems = 4 * MaxListLen

// cleanList cleans each item with clean, drops empty ones and duplicates (first kept), and
// refuses more than MaxListLen distinct items.
func cleanList(field string, items []string, clean func(string) (string, error)) ([]string, error) {
	if len(items) > maxListItems {
		return nil, fmt.Errorf("%s: %d values, at most %d are read: %w", field, len(items), maxListItems, ErrInvalid)
	}
	var out []string
	for i, v := range items {
		c, err := clean(v)
		if err != nil {
			return nil, fmt.Errorf("%s: item %d: %w", field, i+1, err)
		}
		if c == "" || slices.Contains(out, c) {
			continue
		}
		if len(out) == MaxListLen {
			return nil, fmt.Errorf("%s: more than %d distinct values: %w", field, MaxListLen, ErrInvalid)
		}
		out = append(out, c)
	}
	return out, nil
}

// DistinctIDs returns ids without duplicates (first kept), refusing more than max distinct.
func DistinctIDs(field string, ids []int64, max int) ([]int64, error) {
	seen := make(map[int64]bool, min(len(ids), max+1))
	out := make([]int64, 0, min(len(ids), max))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		if len(out) == max {
			return nil, fmt.Errorf("%s: more than %d distinct IDs: %w", field, max, ErrInvalid)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// SplitList reads a list written in one text (usernames, phones, IDs): values separated by
// commas, semicolons or bars, the same in the API's form fields and in sidecar files, trimmed,
// empty ones dropped; nil when none is left.
func SplitList(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// CleanSource checks and normalises an ad photo's metadata: every text bounded, usernames and
// phones deduplicated and capped, phones normalised (NormalizePhone; one that cannot be is
// refused, naming it). Errors name the field.
func CleanSource(src Source) (Source, error) {
	var err error
	if src.URL, err = cleanURL("source_url", src.URL); err != nil {
		return src, err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"site", &src.Site}, {"ad_id", &src.AdID}, {"case_ref", &src.CaseRef}} {
		if *f.v, err = CleanText(f.name, *f.v, MaxRefLen, false); err != nil {
			return src, err
		}
	}
	if src.Usernames, err = cleanList("usernames", src.Usernames, func(s string) (string, error) {
		return CleanText("username", s, MaxUsernameLen, false)
	}); err != nil {
		return src, err
	}
	phones := src.Phones
	if len(phones) > maxListItems {
		return src, fmt.Errorf("phones: %d values, at most %d are read: %w", len(phones), maxListItems, ErrInvalid)
	}
	src.Phones = nil
	for _, p := range phones {
		if strings.TrimSpace(p) == "" {
			continue
		}
		n, err := NormalizePhone(p)
		if err != nil {
			return src, fmt.Errorf("phones: %w", err)
		}
		if slices.Contains(src.Phones, n) {
			continue
		}
		if len(src.Phones) == MaxListLen {
			return src, fmt.Errorf("phones: more than %d distinct numbers: %w", MaxListLen, ErrInvalid)
		}
		src.Phones = append(src.Phones, n)
	}
	return src, nil
}
