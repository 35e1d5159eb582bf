package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facematch/facematch/engine"
)

func TestReadAgeLabels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tsv := write("labels.tsv", "file\tage\tgender\trace\na.jpg\t16\t1\t0\nb.jpg\t40\t0\t2\n")
	ls, err := readAgeLabels(tsv)
	if err != nil || len(ls) != 2 || ls[0] != (engine.AgeLabel{File: "a.jpg", Low: 16, High: 16, Sex: "female"}) || ls[1].Sex != "male" {
		t.Errorf("TSV: %+v, %v", ls, err)
	}
	js := write("truth.json", `[{"filename":"x.jpg","age":"10-19","gender":"Male"},{"filename":"y.jpg","age":"70+"},{"file":"z.jpg","age":7}]`)
	ls, err = readAgeLabels(js)
	if err != nil || len(ls) != 3 || ls[0] != (engine.AgeLabel{File: "x.jpg", Low: 10, High: 19, Sex: "male"}) ||
		ls[1].Low != 70 || ls[1].High != 130 || ls[2] != (engine.AgeLabel{File: "z.jpg", Low: 7, High: 7}) {
		t.Errorf("JSON: %+v, %v", ls, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"no age column.tsv", "file\tyears\na.jpg\t3\n", "must name the columns file and age"},
		{"bad age.tsv", "file\tage\na.jpg\tolder\n", `age "older"`},
		{"backwards band.json", `[{"filename":"a.jpg","age":"19-10"}]`, "ends before it starts"},
		{"escaping path.tsv", "file\tage\n../../etc/passwd\t3\n", "relative path inside the root"},
		{"negative.tsv", "file\tage\na.jpg\t-4\n", "want years in [0, 130]"},
		{"empty.json", `[]`, "lists no photo"},
	} {
		if _, err := readAgeLabels(write(tc.name, tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
