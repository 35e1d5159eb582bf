package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
)

// Caps of a metadata sidecar: it is read whole into memory before a job starts.
const (
	MaxMetaSize    = 256 << 20
	MaxMetaEntries = 1_000_000
)

// The caps in force; tests lower them.
var (
	metaSizeLimit  int64 = MaxMetaSize
	metaEntryLimit       = MaxMetaEntries
)

// Meta maps the files of a source to where they came from, as a sidecar file states it. It is
// read-only once built, and safe for concurrent use.
type Meta struct {
	entries map[string]engine.Source
	// bases counts, per base name, the keys with that base name; bare holds the keys that
	// are a bare name, for For's fallback.
	bases map[string]int
}

// Len is the number of files the sidecar describes.
func (m *Meta) Len() int { return len(m.entries) }

// For returns the record of the file name (a SourceFile.Name). An exact key wins. Else a key
// that is a bare file name ("a.jpg") applies to a file of that base name in any folder
// ("2024/a.jpg"), provided no other key has that base name: a sidecar written for a flat
// folder then still applies after the photos were sorted into subfolders, and a key with
// folders never lends its record to a different folder.
func (m *Meta) For(name string) (engine.Source, bool) {
	src, ok := m.entries[name]
	if !ok {
		base := path.Base(name)
		if m.bases[base] != 1 {
			return engine.Source{}, false
		}
		if src, ok = m.entries[base]; !ok {
			return engine.Source{}, false
		}
	}
	src.Usernames = slices.Clone(src.Usernames)
	src.Phones = slices.Clone(src.Phones)
	if src.PostedAt != nil {
		t := *src.PostedAt
		src.PostedAt = &t
	}
	if src.CollectedAt != nil {
		t := *src.CollectedAt
		src.CollectedAt = &t
	}
	return src, true
}

// add records the record of file, which where (an entry or a line) gave.
func (m *Meta) add(file string, src engine.Source, where string) error {
	key, err := metaKey(file)
	if err != nil {
		return fmt.Errorf("source: %s: %w", where, err)
	}
	if _, dup := m.entries[key]; dup {
		return fmt.Errorf("source: %s: file %q is listed twice", where, key)
	}
	if len(m.entries) >= metaEntryLimit {
		return fmt.Errorf("source: %s: metadata has more than %d entries", where, metaEntryLimit)
	}
	m.entries[key] = src
	m.bases[path.Base(key)]++
	return nil
}

// metaKey cleans a sidecar's file name the way sources clean theirs.
func metaKey(file string) (string, error) {
	key := strings.TrimSpace(file)
	if key == "" {
		return "", errors.New("empty file name")
	}
	key = path.Clean(strings.ReplaceAll(key, `\`, "/"))
	if !fs.ValidPath(key) || key == "." {
		return "", fmt.Errorf("file %q is not a path relative to the source's root", file)
	}
	return key, nil
}

// MetaFormat is the ReadMeta format of a sidecar named filename: "json" or "csv".
func MetaFormat(filename string) (string, error) {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/"))) {
	case ".json":
		return "json", nil
	case ".csv":
		return "csv", nil
	}
	return "", fmt.Errorf("source: metadata file %q: unknown format (want a .json or .csv file)", filename)
}

// errTooLarge: the sidecar is over the size cap.
var errTooLarge = errors.New("metadata too large")

// ReadMeta reads a sidecar in format "json" or "csv".
//
// JSON is either an object keyed by file name, {"a/b.jpg": {"site": "…", …}}, or an array of
// objects with a "file" field. The fields are source_url (or url), site, ad_id, usernames and
// phones (an array or one string), posted_at and collected_at (RFC 3339 or 2006-01-02), and
// case_ref; any other field is an error.
//
// CSV has a header row naming its columns (in any case and order): "file" and any of the
// fields above. A list written in one cell or string is split on ',', ';' or '|'
// (engine.SplitList, as the API's form fields are). A header without commas but with semicolons
// (what spreadsheets write in many locales) selects ';' as the separator.
//
// Every record is checked and normalised as the service does any photo's metadata
// (engine.CleanSource): texts bounded, lists deduplicated and capped, phone numbers in E.164
// where written internationally; a phone that is no number is an error naming its line or
// entry.
func ReadMeta(r io.Reader, format string) (*Meta, error) {
	cr := &capReader{r: r, left: metaSizeLimit}
	var m *Meta
	var err error
	switch strings.ToLower(format) {
	case "json":
		m, err = readJSON(cr)
	case "csv":
		m, err = readCSV(cr)
	default:
		return nil, fmt.Errorf("source: metadata format %q: want json or csv", format)
	}
	if cr.over {
		return nil, fmt.Errorf("source: metadata larger than %d MiB: %w", metaSizeLimit>>20, errTooLarge)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func newMeta() *Meta {
	return &Meta{entries: map[string]engine.Source{}, bases: map[string]int{}}
}

// capReader reads up to left bytes and notes (over) a reader that has more.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.left <= 0 {
		n, err := c.r.Read(p[:1])
		if n > 0 {
			c.over = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Record fields, by their JSON name and CSV column.
const (
	fieldFile        = "file"
	fieldURL         = "source_url"
	fieldURLAlias    = "url"
	fieldSite        = "site"
	fieldAdID        = "ad_id"
	fieldUsernames   = "usernames"
	fieldPhones      = "phones"
	fieldPostedAt    = "posted_at"
	fieldCollectedAt = "collected_at"
	fieldCaseRef     = "case_ref"
)

var knownFields = []string{fieldFile, fieldURL, fieldURLAlias, fieldSite, fieldAdID, fieldUsernames,
	fieldPhones, fieldPostedAt, fieldCollectedAt, fieldCaseRef}

// set stores one field's value, already parsed from text (CSV) or JSON, into src.
func set(src *engine.Source, field, text string, list []string) error {
	switch field {
	case fieldURL, fieldURLAlias:
		src.URL = text
	case fieldSite:
		src.Site = text
	case fieldAdID:
		src.AdID = text
	case fieldCaseRef:
		src.CaseRef = text
	case fieldUsernames:
		src.Usernames = list
	case fieldPhones:
		src.Phones = list
	case fieldPostedAt, fieldCollectedAt:
		t, err := parseDate(text)
		if err != nil {
			return fmt.Errorf("%s %q is not a date (want RFC 3339 or 2006-01-02)", field, text)
		}
		if field == fieldPostedAt {
			src.PostedAt = t
		} else {
			src.CollectedAt = t
		}
	}
	return nil
}

func parseDate(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// isList reports whether field holds several values.
func isList(field string) bool { return field == fieldUsernames || field == fieldPhones }

// cleanList trims values and drops the empty ones; nil when none is left.
func cleanList(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// --- JSON ---

func readJSON(r io.Reader) (*Meta, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("source: metadata is empty")
	}
	if err != nil {
		return nil, jsonErr(dec, "metadata", err)
	}
	m := newMeta()
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, jsonErr(dec, "metadata", err)
			}
			key, _ := tok.(string) // an object's keys are strings
			where := fmt.Sprintf("metadata entry %q", key)
			fields, err := jsonFields(dec, where)
			if err != nil {
				return nil, err
			}
			src, _, err := jsonSource(fields, where, false)
			if err != nil {
				return nil, err
			}
			if err := m.add(key, src, where); err != nil {
				return nil, err
			}
		}
	case json.Delim('['):
		for i := 1; dec.More(); i++ {
			where := fmt.Sprintf("metadata entry %d", i)
			fields, err := jsonFields(dec, where)
			if err != nil {
				return nil, err
			}
			src, file, err := jsonSource(fields, where, true)
			if err != nil {
				return nil, err
			}
			if err := m.add(file, src, fmt.Sprintf("%s (file %q)", where, file)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("source: metadata must be a JSON object keyed by file name or an array of objects")
	}
	if _, err := dec.Token(); err != nil { // the closing '}' or ']'
		return nil, jsonErr(dec, "metadata", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, jsonErr(dec, "metadata", err)
		}
		return nil, fmt.Errorf("source: metadata: unexpected data after the JSON value at byte %d", dec.InputOffset())
	}
	return m, nil
}

func jsonErr(dec *json.Decoder, where string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("source: %s: at byte %d: %w", where, dec.InputOffset(), err)
}

// jsonField is one field of an entry, as written.
type jsonField struct {
	name string // lower case
	raw  json.RawMessage
}

// jsonFields reads the object of one entry, checking only its syntax, so that errors about
// its contents can name the entry's file even when "file" comes last.
func jsonFields(dec *json.Decoder, where string) ([]jsonField, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(dec, where, err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("source: %s: want an object of fields, got %s", where, jsonKind(tok))
	}
	var fields []jsonField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(dec, where, err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErr(dec, where, err)
		}
		fields = append(fields, jsonField{name: strings.ToLower(name), raw: bytes.TrimSpace(raw)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErr(dec, where, err)
	}
	return fields, nil
}

// jsonKind names the JSON value a token starts.
func jsonKind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// jsonSource builds an entry's record. withFile: the entry must name its file (array form).
func jsonSource(fields []jsonField, where string, withFile bool) (src engine.Source, file string, err error) {
	if withFile {
		for _, f := range fields {
			if f.name == fieldFile {
				if file, err = jsonText(f.raw); err != nil {
					return src, "", fmt.Errorf("source: %s: file: %w", where, err)
				}
			}
		}
		if file == "" {
			return src, "", fmt.Errorf("source: %s: no \"file\" field naming the file", where)
		}
		where = fmt.Sprintf("%s (file %q)", where, file)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		switch {
		case f.name == fieldFile && withFile:
			// read above
		case f.name == fieldFile:
			return src, "", fmt.Errorf("source: %s: field \"file\" is not allowed when entries are keyed by file name", where)
		case !slices.Contains(knownFields, f.name):
			return src, "", fmt.Errorf("source: %s: unknown field %q (known: %s)", where, f.name, strings.Join(knownFields[1:], ", "))
		}
		canon := f.name
		if canon == fieldURLAlias {
			canon = fieldURL
		}
		if seen[canon] {
			return src, "", fmt.Errorf("source: %s: field %q given twice", where, canon)
		}
		seen[canon] = true
		if f.name == fieldFile {
			continue
		}
		var text string
		var list []string
		if isList(f.name) {
			list, err = jsonList(f.raw)
		} else {
			text, err = jsonText(f.raw)
		}
		if err == nil {
			err = set(&src, f.name, text, list)
		}
		if err != nil {
			return src, "", fmt.Errorf("source: %s: %s: %w", where, f.name, err)
		}
	}
	if src, err = engine.CleanSource(src); err != nil {
		return src, "", fmt.Errorf("source: %s: %w", where, err)
	}
	return src, file, nil
}

// jsonText reads a string field; a number (an ad ID written bare) is taken as written.
func jsonText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("no value")
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case c == 'n':
		return "", nil
	case c == '-' || ('0' <= c && c <= '9'):
		return string(raw), nil
	}
	return "", fmt.Errorf("want a string, got %s", raw)
}

// jsonList reads a list field: an array of strings (or numbers), or a single string.
func jsonList(raw json.RawMessage) ([]string, error) {
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		values := make([]string, 0, len(items))
		for i, item := range items {
			v, err := jsonText(bytes.TrimSpace(item))
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i+1, err)
			}
			values = append(values, v)
		}
		return cleanList(values), nil
	}
	v, err := jsonText(raw)
	if err != nil {
		return nil, fmt.Errorf("want an array of strings or one string: %w", err)
	}
	return engine.SplitList(v), nil
}

// --- CSV ---

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

func readCSV(r io.Reader) (*Meta, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM)) // spreadsheets start UTF-8 CSV with a byte-order mark
	}
	cr := csv.NewReader(br)
	head, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	if !bytes.ContainsRune(head, ',') && bytes.ContainsRune(head, ';') {
		cr.Comma = ';'
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("source: metadata is empty: want a header row naming the columns")
	}
	if err != nil {
		return nil, fmt.Errorf("source: metadata: %w", err)
	}
	columns := make([]string, len(header))
	fileCol := -1
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch {
		case name == "":
			return nil, fmt.Errorf("source: metadata line 1: column %d has no name", i+1)
		case !slices.Contains(knownFields, name):
			return nil, fmt.Errorf("source: metadata line 1: unknown column %q (known: %s)", h, strings.Join(knownFields, ", "))
		}
		canon := name
		if canon == fieldURLAlias {
			canon = fieldURL
		}
		for j, c := range columns[:i] {
			if c == canon || (c == fieldURLAlias && canon == fieldURL) {
				return nil, fmt.Errorf("source: metadata line 1: columns %d and %d are both %q", j+1, i+1, canon)
			}
		}
		columns[i] = name
		if name == fieldFile {
			fileCol = i
		}
	}
	if fileCol < 0 {
		return nil, errors.New(`source: metadata line 1: no "file" column naming the files`)
	}
	m := newMeta()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("source: metadata: %w", err)
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("metadata line %d", line)
		if !slices.ContainsFunc(rec, func(c string) bool { return strings.TrimSpace(c) != "" }) {
			continue // a row of empty cells, as spreadsheets export
		}
		var src engine.Source
		for i, cell := range rec {
			if i == fileCol {
				continue
			}
			var list []string
			if isList(columns[i]) {
				list = engine.SplitList(cell)
			}
			if err := set(&src, columns[i], strings.TrimSpace(cell), list); err != nil {
				return nil, fmt.Errorf("source: %s: %w", where, err)
			}
		}
		if src, err = engine.CleanSource(src); err != nil {
			return nil, fmt.Errorf("source: %s: %w", where, err)
		}
		if err := m.add(rec[fileCol], src, where); err != nil {
			return nil, err
		}
	}
}
