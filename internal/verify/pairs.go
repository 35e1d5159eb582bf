package verify

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Pairs file formats reported in [PairSet.Format].
const (
	FormatLFW = "lfw"
	FormatTSV = "tsv"
)

// TSV files carry no folds, so they are split into tsvFolds folds drawn from
// tsvFoldSeed. The seed is fixed so that published figures can be reproduced
// from the pairs file alone.
const (
	tsvFolds    = 10
	tsvFoldSeed = 1
)

// ErrMalformed is wrapped by every error [ReadPairs] returns for a pairs file
// that does not follow its format (as opposed to an I/O error).
var ErrMalformed = errors.New("malformed pairs file")

// Pair is one verification trial: two images, relative to the image root,
// with slash-separated paths.
type Pair struct {
	A, B string
	Same bool // same person
	Fold int  // in [0, PairSet.Folds)
}

// PairSet is a parsed pairs file.
type PairSet struct {
	Pairs  []Pair
	Folds  int
	Format string // FormatLFW or FormatTSV
}

// Images returns the unique image paths of the set in first-seen order, so
// that the caller can embed every image once.
func (s *PairSet) Images() []string {
	seen := make(map[string]bool, 2*len(s.Pairs))
	var out []string
	for _, p := range s.Pairs {
		for _, img := range [2]string{p.A, p.B} {
			if !seen[img] {
				seen[img] = true
				out = append(out, img)
			}
		}
	}
	return out
}

// ReadPairs parses a pairs file, detecting its format from the first
// non-blank line: two integers mean LFW pairs.txt, anything else TSV.
// Errors for malformed input wrap [ErrMalformed] and name the line.
func ReadPairs(r io.Reader) (*PairSet, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	first := -1
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("verify: %w: no pairs", ErrMalformed)
	}
	if f := strings.Fields(lines[first]); len(f) == 2 && isUint(f[0]) && isUint(f[1]) {
		return parseLFW(lines, first)
	}
	return parseTSV(lines)
}

func readLines(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if len(lines) == 0 {
			l = strings.TrimPrefix(l, "\ufeff") // editors on Windows add a BOM
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("verify: reading pairs: %w", err)
	}
	return lines, nil
}

func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 31)
	return err == nil
}

// malformed builds a parse error; lineNo is 1-based.
func malformed(lineNo int, format string, args ...any) error {
	return fmt.Errorf("verify: %w: line %d: %s", ErrMalformed, lineNo, fmt.Sprintf(format, args...))
}

// parseLFW reads the LFW layout. Fields are split on any whitespace because
// copies of pairs.txt circulate with tabs turned into spaces; LFW names
// never contain spaces.
func parseLFW(lines []string, first int) (*PairSet, error) {
	head := strings.Fields(lines[first])
	folds, _ := strconv.Atoi(head[0])
	n, _ := strconv.Atoi(head[1])
	if folds < 1 || n < 1 {
		return nil, malformed(first+1, "header wants positive fold count and pairs per class, got %q", lines[first])
	}
	set := &PairSet{Folds: folds, Format: FormatLFW, Pairs: make([]Pair, 0, 2*folds*n)}
	i := first + 1
	for fold := range folds {
		for k := range 2 * n {
			if i >= len(lines) {
				return nil, malformed(i+1, "unexpected end of file: fold %d wants %d pairs, got %d", fold+1, 2*n, k)
			}
			lineNo := i + 1
			f := strings.Fields(lines[i])
			i++
			p := Pair{Fold: fold, Same: k < n}
			var err error
			if p.Same {
				if len(f) != 3 {
					return nil, malformed(lineNo, "matched pair wants 3 fields (name n1 n2), got %d", len(f))
				}
				if p.A, err = lfwPath(f[0], f[1]); err == nil {
					p.B, err = lfwPath(f[0], f[2])
				}
			} else {
				if len(f) != 4 {
					return nil, malformed(lineNo, "mismatched pair wants 4 fields (name1 n1 name2 n2), got %d", len(f))
				}
				if p.A, err = lfwPath(f[0], f[1]); err == nil {
					p.B, err = lfwPath(f[2], f[3])
				}
			}
			if err != nil {
				return nil, malformed(lineNo, "%v", err)
			}
			set.Pairs = append(set.Pairs, p)
		}
	}
	for ; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			return nil, malformed(i+1, "unexpected extra line after %d folds of %d+%d pairs", folds, n, n)
		}
	}
	return set, nil
}

func lfwPath(name, index string) (string, error) {
	idx, err := strconv.Atoi(index)
	if err != nil || idx < 1 {
		return "", fmt.Errorf("image index %q is not a positive integer", index)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("invalid name %q", name)
	}
	return fmt.Sprintf("%s/%s_%04d.jpg", name, name, idx), nil
}

// parseTSV reads "image_a<TAB>image_b<TAB>same" lines. Blank lines are
// skipped. Only the first non-blank line may be a header, recognised by a
// third field that is not a boolean.
func parseTSV(lines []string) (*PairSet, error) {
	set := &PairSet{Format: FormatTSV}
	sawFirst := false
	for i, l := range lines {
		lineNo := i + 1
		if strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			return nil, malformed(lineNo, "want 3 tab-separated fields (image_a image_b same), got %d", len(f))
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		same, ok := parseBool(f[2])
		if !ok {
			if !sawFirst {
				sawFirst = true
				continue // header
			}
			return nil, malformed(lineNo, "same field %q is not one of 1/0/true/false/yes/no", f[2])
		}
		sawFirst = true
		for _, p := range f[:2] {
			if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
				return nil, malformed(lineNo, "image path %q is not a path inside the image root", p)
			}
		}
		set.Pairs = append(set.Pairs, Pair{A: f[0], B: f[1], Same: same})
	}
	if len(set.Pairs) == 0 {
		return nil, fmt.Errorf("verify: %w: no pairs", ErrMalformed)
	}
	set.Folds = assignStratifiedFolds(set.Pairs, tsvFolds, tsvFoldSeed)
	return set, nil
}

func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true, true
	case "0", "false", "no":
		return false, true
	}
	return false, false
}

// assignStratifiedFolds sets Fold on every pair and returns the number of
// folds used (fewer than folds only when there are fewer pairs). Each class
// is shuffled and dealt round-robin; impostors continue where the genuine
// pairs stopped, so per-class and total fold sizes each differ by at most one.
func assignStratifiedFolds(pairs []Pair, folds int, seed uint64) int {
	folds = min(folds, len(pairs))
	var genuine, impostor []int
	for i, p := range pairs {
		if p.Same {
			genuine = append(genuine, i)
		} else {
			impostor = append(impostor, i)
		}
	}
	rng := splitMix64(seed)
	next := 0
	for _, idx := range [2][]int{genuine, impostor} {
		rng.shuffle(idx)
		for _, i := range idx {
			pairs[i].Fold = next
			next = (next + 1) % folds
		}
	}
	return folds
}

// splitMix64 is a tiny PRNG used instead of math/rand so that the fold split,
// and with it the published numbers, can never change with the Go release:
// the standard library does not promise a stable Shuffle sequence for
// math/rand/v2.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform value in [0, n), rejecting the low values that
// would make x % n biased.
func (s *splitMix64) intn(n int) int {
	bound := uint64(n)
	threshold := -bound % bound
	for {
		if x := s.next(); x >= threshold {
			return int(x % bound)
		}
	}
}

// shuffle is a Fisher–Yates shuffle.
func (s *splitMix64) shuffle(a []int) {
	for i := len(a) - 1; i > 0; i-- {
		j := s.intn(i + 1)
		a[i], a[j] = a[j], a[i]
	}
}
