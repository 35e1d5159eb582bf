package source

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/facematch/facematch/engine"
)

func date(t testing.TB, s string) *time.Time {
	t.Helper()
	d, err := parseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReadMeta(t *testing.T) {
	posted := date(t, "2024-03-01T10:00:00Z")
	day := date(t, "2024-02-29")
	full := engine.Source{
		URL: "https://ads.example/1", Site: "ads.example", AdID: "123",
		Usernames: []string{"anna", "bella"}, Phones: []string{"+447700900123"}, // E.164
		PostedAt: posted, CollectedAt: day, CaseRef: "OP-7",
	}
	tests := []struct {
		name, format, in string
		want             map[string]engine.Source
	}{
		{"json object", "json", `{
			"a/b.jpg": {"source_url": "https://ads.example/1", "site": "ads.example", "ad_id": 123,
				"usernames": ["anna", " bella ", ""], "phones": "+44 7700 900123",
				"posted_at": "2024-03-01T10:00:00Z", "collected_at": "2024-02-29", "case_ref": "OP-7"},
			"c.jpg": {"URL": "u", "phones": null, "posted_at": null}
		}`, map[string]engine.Source{"a/b.jpg": full, "c.jpg": {URL: "u"}}},
		{"json array", "json", `[
			{"source_url": "https://ads.example/1", "site": "ads.example", "ad_id": "123",
				"usernames": ["anna", "bella"], "phones": ["+44 7700 900123"],
				"posted_at": "2024-03-01T10:00:00Z", "collected_at": "2024-02-29", "case_ref": "OP-7",
				"file": "./a\\b.jpg"},
			{"file": "c.jpg"}
		]`, map[string]engine.Source{"a/b.jpg": full, "c.jpg": {}}},
		{"json empty object", "json", `{}`, map[string]engine.Source{}},
		{"csv", "csv", "\ufeffFile, URL ,site,ad_id,usernames,phones,posted_at,collected_at,case_ref\n" +
			`a/b.jpg,https://ads.example/1,ads.example,123,anna; bella|,+44 7700 900123,2024-03-01T10:00:00Z,2024-02-29,OP-7` + "\n" +
			",,,,,,,,\n" +
			"c.jpg,,,,,,,,\n", map[string]engine.Source{"a/b.jpg": full, "c.jpg": {}}},
		{"csv semicolons", "csv", "file;site;usernames\n\"a/b.jpg\";ads.example;anna|bella\n",
			map[string]engine.Source{"a/b.jpg": {Site: "ads.example", Usernames: []string{"anna", "bella"}}}},
		{"csv header only", "csv", "file,site\n", map[string]engine.Source{}},
		// Lists take the API's separators too: a quoted cell with commas, one JSON string.
		{"csv list with commas", "csv", "file,usernames\na.jpg,\"anna, bella\"\n",
			map[string]engine.Source{"a.jpg": {Usernames: []string{"anna", "bella"}}}},
		{"json list in one string", "json", `{"a.jpg": {"usernames": "anna, bella; cleo"}}`,
			map[string]engine.Source{"a.jpg": {Usernames: []string{"anna", "bella", "cleo"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ReadMeta(strings.NewReader(tt.in), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if m.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", m.Len(), len(tt.want))
			}
			for name, want := range tt.want {
				got, ok := m.For(name)
				if !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("For(%q) = %+v, %v\nwant %+v", name, got, ok, want)
				}
			}
		})
	}
}

func TestReadMetaErrors(t *testing.T) {
	tests := []struct {
		name, format, in, want string
	}{
		{"format", "xml", "<a/>", `metadata format "xml": want json or csv`},
		{"json empty", "json", "", "metadata is empty"},
		{"json scalar", "json", `"a.jpg"`, "must be a JSON object keyed by file name or an array of objects"},
		{"json syntax", "json", `{"a.jpg": {"site": }}`, `metadata entry "a.jpg": at byte`},
		{"json truncated", "json", `{"a.jpg": {"site": "x"}`, "unexpected EOF"},
		{"json trailing", "json", `{} {}`, "unexpected data after the JSON value"},
		{"json unknown field", "json", `{"a.jpg": {"site": "x", "colour": "red"}}`,
			`metadata entry "a.jpg": unknown field "colour"`},
		{"json unknown field in array names the file", "json", `[{"colour": "red", "file": "a.jpg"}]`,
			`metadata entry 1 (file "a.jpg"): unknown field "colour"`},
		{"json file in object form", "json", `{"a.jpg": {"file": "b.jpg"}}`, `field "file" is not allowed`},
		{"json no file", "json", `[{"site": "x"}]`, `metadata entry 1: no "file" field`},
		{"json entry not an object", "json", `{"a.jpg": "x"}`, `metadata entry "a.jpg": want an object of fields, got a string`},
		{"json bad date", "json", `{"a.jpg": {"posted_at": "yesterday"}}`,
			`metadata entry "a.jpg": posted_at: posted_at "yesterday" is not a date (want RFC 3339 or 2006-01-02)`},
		{"json bad list", "json", `{"a.jpg": {"phones": [{"n": 1}]}}`, `phones: item 1: want a string`},
		{"json field twice", "json", `{"a.jpg": {"url": "x", "source_url": "y"}}`, `field "source_url" given twice`},
		{"json duplicate file", "json", `{"a.jpg": {}, "./a.jpg": {}}`, `metadata entry "./a.jpg": file "a.jpg" is listed twice`},
		{"json absolute file", "json", `[{"file": "/etc/a.jpg"}]`, `file "/etc/a.jpg" is not a path relative to the source's root`},
		{"json escaping file", "json", `{"../a.jpg": {}}`, `file "../a.jpg" is not a path relative`},
		{"csv empty", "csv", "", "metadata is empty: want a header row"},
		{"csv unknown column", "csv", "file,colour\na.jpg,red\n", `metadata line 1: unknown column "colour"`},
		{"csv no file column", "csv", "site,url\nx,y\n", `metadata line 1: no "file" column`},
		{"csv column twice", "csv", "file,url,source_url\n", `columns 2 and 3 are both "source_url"`},
		{"csv unnamed column", "csv", "file,,site\n", "column 2 has no name"},
		{"csv bad date", "csv", "file,posted_at\na.jpg,2024-01-01\n\nb.jpg,\"3 May\"\nc.jpg,2024-13-01\n",
			`metadata line 4: posted_at "3 May" is not a date`},
		{"csv empty file", "csv", "file,site\na.jpg,x\n,y\n", "metadata line 3: empty file name"},
		{"csv duplicate file", "csv", "file\na.jpg\nb.jpg\na.jpg\n", `metadata line 4: file "a.jpg" is listed twice`},
		{"json bad phone", "json", `{"a.jpg": {"phones": ["+49 170 1234567", "abc"]}}`, `metadata entry "a.jpg": phones: "abc" has no digits`},
		{"json long site", "json", `[{"file": "a.jpg", "site": "` + strings.Repeat("s", 201) + `"}]`,
			`metadata entry 1 (file "a.jpg"): site is longer than 200 characters`},
		{"json control character", "json", `{"a.jpg": {"case_ref": "OP\u001b[2J"}}`, `metadata entry "a.jpg": case_ref contains a control character`},
		{"csv bad phone", "csv", "file,phones\na.jpg,+49 170 1234567\nb.jpg,+49 170 1234567;+\n", `metadata line 3: phones: "+" has no digits`},
		{"csv too long phone", "csv", "file,phones\na.jpg,1234567890123456789012345678\n", `metadata line 2: phones: "1234567890123456789012345678" has 28 digits`},
		{"csv ragged", "csv", "file,site\na.jpg\n", "record on line 2: wrong number of fields"},
		{"csv bad quote", "csv", "file,site\na.jpg,x\"y\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ReadMeta(strings.NewReader(tt.in), tt.format)
			if err == nil {
				t.Fatalf("no error; read %d entries", m.Len())
			}
			wantErrContains(t, err, tt.want)
			if !strings.HasPrefix(err.Error(), "source: ") {
				t.Errorf("err %q lacks the package prefix", err)
			}
		})
	}
}

// rows is an endless CSV body of distinct rows.
type rows struct {
	n   int
	buf []byte
}

func (r *rows) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		r.n++
		r.buf = fmt.Appendf(r.buf, "%d.jpg,x\n", r.n)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// endless repeats s forever.
type endless struct{ s string }

func (e endless) Read(p []byte) (int, error) {
	if len(p) < 2*len(e.s) {
		return copy(p, e.s), nil
	}
	n := copy(p, e.s)
	for n < len(p) {
		n += copy(p[n:], p[:n]) // doubling
	}
	return n, nil
}

// limits lowers the sidecar caps for one test.
func limits(t *testing.T, size int64, entries int) {
	oldSize, oldEntries := metaSizeLimit, metaEntryLimit
	metaSizeLimit, metaEntryLimit = size, entries
	t.Cleanup(func() { metaSizeLimit, metaEntryLimit = oldSize, oldEntries })
}

func TestReadMetaCaps(t *testing.T) {
	limits(t, 1<<20, 1000)
	tests := []struct {
		name, format string
		r            io.Reader
		want         string
	}{
		{"json size", "json", io.MultiReader(strings.NewReader(`{"a.jpg": {"site": "`), endless{"x"}), "metadata larger than 1 MiB"},
		{"csv size", "csv", io.MultiReader(strings.NewReader("file,site\n"), endless{"\n"}), "metadata larger than 1 MiB"},
		{"csv entries", "csv", io.MultiReader(strings.NewReader("file,site\n"), &rows{}), "metadata line 1002: metadata has more than 1000 entries"},
		{"json entries", "json", strings.NewReader(`[` + jsonFiles(1001) + `]`), "metadata has more than 1000 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadMeta(tt.r, tt.format)
			wantErrContains(t, err, tt.want)
		})
	}
	// Exactly at the size cap is fine.
	limits(t, 40, 1000)
	in := `{"a.jpg": {"site": "` + strings.Repeat("x", 40-23) + `"}}`
	if len(in) != 40 {
		t.Fatalf("test input is %d bytes", len(in))
	}
	if _, err := ReadMeta(strings.NewReader(in), "json"); err != nil {
		t.Errorf("a sidecar of exactly the cap: %v", err)
	}
}

func jsonFiles(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"file": "%d.jpg"}`, i)
	}
	return b.String()
}

func TestMetaFor(t *testing.T) {
	m, err := ReadMeta(strings.NewReader(`{
		"a.jpg": {"site": "bare"},
		"x/b.jpg": {"site": "x/b"},
		"y/b.jpg": {"site": "y/b"},
		"c.jpg": {"site": "bare c"},
		"x/c.jpg": {"site": "x/c"},
		"x/d.jpg": {"site": "x/d"}
	}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, site string // site "": no record
	}{
		{"a.jpg", "bare"},
		{"2024/a.jpg", "bare"}, // a bare key applies in any folder
		{"x/b.jpg", "x/b"},     // exact
		{"z/b.jpg", ""},        // two keys named b.jpg: ambiguous
		{"x/c.jpg", "x/c"},     // exact wins
		{"z/c.jpg", ""},        // c.jpg is both bare and x/c.jpg: ambiguous
		{"z/d.jpg", ""},        // a key with folders never lends its record elsewhere
		{"d.jpg", ""},          //   nor to a bare name
		{"missing.jpg", ""},
	}
	for _, tt := range tests {
		got, ok := m.For(tt.name)
		if ok != (tt.site != "") || got.Site != tt.site {
			t.Errorf("For(%q) = %q, %v; want %q", tt.name, got.Site, ok, tt.site)
		}
	}
	// A record handed out is the caller's: changing it leaves the Meta as it was.
	m2, _ := ReadMeta(strings.NewReader(`{"a.jpg": {"phones": ["5551234"]}}`), "json")
	src, _ := m2.For("a.jpg")
	src.Phones[0] = "changed"
	if again, _ := m2.For("a.jpg"); again.Phones[0] != "5551234" {
		t.Error("For shares its slices with the caller")
	}
}

func TestMetaFormat(t *testing.T) {
	tests := []struct{ file, want, err string }{
		{"meta.json", "json", ""},
		{`C:\cases\META.CSV`, "csv", ""},
		{"meta.txt", "", `metadata file "meta.txt": unknown format (want a .json or .csv file)`},
		{"json", "", "unknown format"},
	}
	for _, tt := range tests {
		got, err := MetaFormat(tt.file)
		if tt.err != "" {
			wantErrContains(t, err, tt.err)
		} else if err != nil || got != tt.want {
			t.Errorf("MetaFormat(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
		}
	}
}

// TestMetaDefaultCap runs the real 256 MiB cap on the reader alone (parsing that much takes
// seconds; TestReadMetaCaps checks ReadMeta's use of it with a lower cap).
func TestMetaDefaultCap(t *testing.T) {
	cr := &capReader{r: endless{"x"}, left: MaxMetaSize}
	n, err := io.Copy(io.Discard, cr)
	if n != 256<<20 || err != errTooLarge || !cr.over {
		t.Fatalf("read %d bytes, err %v, over %v; want 256 MiB, errTooLarge, true", n, err, cr.over)
	}
	cr = &capReader{r: io.LimitReader(endless{"x"}, MaxMetaSize), left: MaxMetaSize}
	if n, err := io.Copy(io.Discard, cr); n != 256<<20 || err != nil || cr.over {
		t.Fatalf("exactly 256 MiB: read %d bytes, err %v, over %v", n, err, cr.over)
	}
}
