package verify

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestReadPairsLFW(t *testing.T) {
	in := "2\t1\n" +
		"Ann_A\t1\t2\n" +
		"Bob_B\t3\tCid_C\t12\n" +
		"Dee_D\t2\t4\r\n" + // CRLF line endings are tolerated
		"Ann_A 1 Dee_D 2\n" + // so are spaces instead of tabs
		"\n"
	got, err := ReadPairs(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &PairSet{Folds: 2, Format: FormatLFW, Pairs: []Pair{
		{A: "Ann_A/Ann_A_0001.jpg", B: "Ann_A/Ann_A_0002.jpg", Same: true, Fold: 0},
		{A: "Bob_B/Bob_B_0003.jpg", B: "Cid_C/Cid_C_0012.jpg", Same: false, Fold: 0},
		{A: "Dee_D/Dee_D_0002.jpg", B: "Dee_D/Dee_D_0004.jpg", Same: true, Fold: 1},
		{A: "Ann_A/Ann_A_0001.jpg", B: "Dee_D/Dee_D_0002.jpg", Same: false, Fold: 1},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	wantImages := []string{"Ann_A/Ann_A_0001.jpg", "Ann_A/Ann_A_0002.jpg", "Bob_B/Bob_B_0003.jpg",
		"Cid_C/Cid_C_0012.jpg", "Dee_D/Dee_D_0002.jpg", "Dee_D/Dee_D_0004.jpg"}
	if imgs := got.Images(); !reflect.DeepEqual(imgs, wantImages) {
		t.Errorf("Images() = %v, want %v", imgs, wantImages)
	}
}

func TestReadPairsTSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Pair // folds are checked separately
	}{
		{"header", "image1\timage2\tsame\na/1.jpg\tb/2.jpg\t1\na/1.jpg\ta/3.jpg\t0\n",
			[]Pair{{A: "a/1.jpg", B: "b/2.jpg", Same: true}, {A: "a/1.jpg", B: "a/3.jpg"}}},
		{"no header", "a/1.jpg\tb/2.jpg\tfalse\n", []Pair{{A: "a/1.jpg", B: "b/2.jpg"}}},
		{"boolean spellings", "x\ty\tYES\nx\ty\tno\nx\ty\tTrue\nx\ty\t0\n",
			[]Pair{{A: "x", B: "y", Same: true}, {A: "x", B: "y"}, {A: "x", B: "y", Same: true}, {A: "x", B: "y"}}},
		{"blank lines and CRLF", "\r\na b/1.jpg\tc.jpg\t1\r\n\r\n", []Pair{{A: "a b/1.jpg", B: "c.jpg", Same: true}}},
		{"BOM and header", "\ufeffa\tb\tlabel\nx\ty\t1\n", []Pair{{A: "x", B: "y", Same: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPairs(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != FormatTSV || got.Folds != min(10, len(tt.want)) {
				t.Errorf("format %q folds %d, want tsv and %d", got.Format, got.Folds, min(10, len(tt.want)))
			}
			pairs := make([]Pair, len(got.Pairs))
			for i, p := range got.Pairs {
				if p.Fold < 0 || p.Fold >= got.Folds {
					t.Errorf("pair %d: fold %d out of range", i, p.Fold)
				}
				p.Fold = 0
				pairs[i] = p
			}
			if !reflect.DeepEqual(pairs, tt.want) {
				t.Errorf("got %+v, want %+v", pairs, tt.want)
			}
		})
	}
}

func TestReadPairsMalformed(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "no pairs"},
		{"only blanks", "\n \n", "no pairs"},
		{"lfw zero folds", "0\t1\n", "line 1: header"},
		{"lfw matched wrong fields", "1\t1\nAnn\t1\nAnn\t1\tBob\t2\n", "line 2: matched pair wants 3 fields"},
		{"lfw mismatched wrong fields", "1\t1\nAnn\t1\t2\nAnn\t1\t2\n", "line 3: mismatched pair wants 4 fields"},
		{"lfw non-numeric", "1\t1\nAnn\t1\tx\nAnn\t1\tBob\t2\n", `line 2: image index "x"`},
		{"lfw zero index", "1\t1\nAnn\t1\t2\nAnn\t0\tBob\t2\n", `line 3: image index "0"`},
		{"lfw bad name", "1\t1\n../x\t1\t2\nAnn\t1\tBob\t2\n", `line 2: invalid name`},
		{"lfw short", "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t2\nAnn\t1\t2\n", "line 5: unexpected end of file: fold 2 wants 2 pairs, got 1"},
		{"lfw blank inside", "1\t1\nAnn\t1\t2\n\nAnn\t1\tBob\t2\n", "line 3: mismatched pair wants 4 fields (name1 n1 name2 n2), got 0"},
		{"lfw extra", "1\t1\nAnn\t1\t2\nAnn\t1\tBob\t2\n\nAnn\t1\t2\n", "line 5: unexpected extra line"},
		{"tsv two fields", "a\tb\t1\na\tb\n", "line 2: want 3 tab-separated fields"},
		{"tsv four fields", "a\tb\t1\tx\n", "line 1: want 3"},
		{"tsv bad label", "h1\th2\th3\na\tb\t1\na\tb\tmaybe\n", `line 3: same field "maybe"`},
		{"tsv header only", "image1\timage2\tsame\n", "no pairs"},
		{"tsv absolute path", "a\t/etc/passwd\t1\n", `line 1: image path "/etc/passwd"`},
		{"tsv escaping path", "x\tx\tsame\n\na/../../b\tc\t0\n", `line 3: image path "a/../../b"`},
		{"tsv empty path", "\tc\t0\n", `line 1: image path ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPairs(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

// tsvOf builds a TSV pairs file with the given class counts, genuine first.
func tsvOf(same, different int) string {
	var b strings.Builder
	b.WriteString("image1\timage2\tsame\n")
	for i := range same + different {
		fmt.Fprintf(&b, "p%d/a.jpg\tp%d/b.jpg\t%t\n", i, i, i < same)
	}
	return b.String()
}

func TestStratifiedFolds(t *testing.T) {
	tests := []struct {
		same, different, wantFolds int
	}{
		{140, 380, 10},
		{37, 83, 10},
		{5, 0, 5},
		{3, 4, 7},
		{1, 20, 10},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.same, tt.different), func(t *testing.T) {
			in := tsvOf(tt.same, tt.different)
			set, err := ReadPairs(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if set.Folds != tt.wantFolds {
				t.Fatalf("folds = %d, want %d", set.Folds, tt.wantFolds)
			}
			gen, imp, total := foldCounts(set)
			for name, c := range map[string][]int{"genuine": gen, "impostor": imp, "total": total} {
				if spread(c) > 1 {
					t.Errorf("%s per fold %v differ by more than one", name, c)
				}
			}
			again, err := ReadPairs(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(set, again) {
				t.Error("fold assignment is not deterministic")
			}
		})
	}
}

// TestStratifiedFoldsShuffled guards against a regression to dealing pairs in
// file order, which would put consecutive (often same-identity) pairs in
// different folds in a fixed pattern. It also pins the split itself: if it
// changes, published TSV figures change, so update this only on purpose.
func TestStratifiedFoldsShuffled(t *testing.T) {
	set, err := ReadPairs(strings.NewReader(tsvOf(10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range set.Pairs {
		got = append(got, p.Fold)
	}
	inOrder := true
	for i, f := range got {
		if f != i%10 {
			inOrder = false
		}
	}
	if inOrder {
		t.Fatalf("folds %v follow file order", got)
	}
	want := []int{6, 3, 1, 5, 0, 9, 7, 8, 2, 4, 9, 4, 0, 3, 5, 1, 8, 2, 7, 6}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("folds = %#v, want %#v", got, want)
	}
}

func foldCounts(set *PairSet) (gen, imp, total []int) {
	gen, imp, total = make([]int, set.Folds), make([]int, set.Folds), make([]int, set.Folds)
	for _, p := range set.Pairs {
		total[p.Fold]++
		if p.Same {
			gen[p.Fold]++
		} else {
			imp[p.Fold]++
		}
	}
	return gen, imp, total
}

func spread(c []int) int {
	lo, hi := c[0], c[0]
	for _, v := range c {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

func TestRealPairsFiles(t *testing.T) {
	tests := []struct {
		path                      string
		format                    string
		pairs, same, folds, perFd int
	}{
		{"../../../shared/data/lfw/pairs.txt", FormatLFW, 3000, 1500, 5, 600},
		{"../../../shared/data/celebs/pairs.tsv", FormatTSV, 520, 140, 10, 52},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := os.Open(tt.path)
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s not present", tt.path)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			set, err := ReadPairs(f)
			if err != nil {
				t.Fatal(err)
			}
			same := 0
			for _, p := range set.Pairs {
				if p.Same {
					same++
				}
			}
			if set.Format != tt.format || len(set.Pairs) != tt.pairs || same != tt.same || set.Folds != tt.folds {
				t.Errorf("got format %s, %d pairs, %d same, %d folds; want %s, %d, %d, %d",
					set.Format, len(set.Pairs), same, set.Folds, tt.format, tt.pairs, tt.same, tt.folds)
			}
			gen, imp, total := foldCounts(set)
			for i := range total {
				if total[i] != tt.perFd || gen[i] != tt.same/tt.folds || imp[i] != (tt.pairs-tt.same)/tt.folds {
					t.Errorf("fold %d: %d pairs (%d+%d), want %d", i, total[i], gen[i], imp[i], tt.perFd)
				}
			}
			if len(set.Images()) == 0 {
				t.Error("no images")
			}
		})
	}
}
