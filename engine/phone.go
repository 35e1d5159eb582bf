package engine

import (
	"strings"
	"unicode"
)

// NormalizePhone returns a phone number in E.164 (+ and 8 to 15 digits) when it is written in
// international form (+49 151 …, 0049 151 …); other numbers are returned with only their
// separators removed, since their country cannot be known.
func NormalizePhone(p string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(p) {
		switch {
		case unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	if d := strings.TrimPrefix(n, "+"); strings.HasPrefix(n, "+") && len(d) >= 8 && len(d) <= 15 && d[0] != '0' {
		return n
	}
	return strings.TrimPrefix(n, "+")
}
