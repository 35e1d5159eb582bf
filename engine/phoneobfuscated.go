package engine

import (
	"strings"
	"unicode"
)

// Ads write phone numbers so that filters miss them: digits spelled out ("five five five"),
// letters standing for digits (O for 0, l for 1), emoji keycaps and circled digits, words for
// separators ("dot", "dash") and odd separators (*, _, •). readObfuscated undoes these before
// NormalizePhone reads the number; what it cannot read stays letters, and the number is refused
// naming them, never stored as a guess.

// spelledDigits are the digit words read (English and Spanish, the languages of the ads this
// was built for), longest first at each position.
var spelledDigits = map[string]byte{
	"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4', "five": '5',
	"six": '6', "seven": '7', "eight": '8', "nine": '9',
	"cero": '0', "uno": '1', "dos": '2', "tres": '3', "cuatro": '4', "cinco": '5', "seis": '6',
	"siete": '7', "ocho": '8', "nueve": '9',
}

// fillerWords carry no digits: separators written out and the labels ads put before numbers.
var fillerWords = []string{"whatsapp", "phone", "punto", "guion", "call", "text", "dash", "tel", "txt", "dot", "ph"}

// readObfuscated rewrites an obfuscated phone number into digits and separators; a plain one
// comes back as written.
func readObfuscated(p string) string {
	s := []rune(strings.ToLower(p))
	var b strings.Builder
	for i := 0; i < len(s); {
		r := s[i]
		switch {
		case r >= '①' && r <= '⑨':
			b.WriteByte(byte('1' + r - '①'))
		case r == '⓪':
			b.WriteByte('0')
		case r >= '❶' && r <= '❾':
			b.WriteByte(byte('1' + r - '❶'))
		case r >= '➀' && r <= '➈':
			b.WriteByte(byte('1' + r - '➀'))
		case r >= '➊' && r <= '➒':
			b.WriteByte(byte('1' + r - '➊'))
		case r == '\ufe0f' || r == '\u20e3': // an emoji keycap's selector and enclosing key: the digit before it stands
		case r == '*' || r == '_' || r == '~' || r == '•' || r == '·' || r == ':' || r == '\\' || r == '=':
			b.WriteByte(' ')
		case unicode.IsLetter(r):
			if w, d := wordAt(s, i); w > 0 {
				if d != 0 {
					b.WriteByte(d)
				} else {
					b.WriteByte(' ')
				}
				i += w
				continue
			}
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		i++
	}
	out := b.String()
	// Letters standing for digits are read only when no other letter is left: "555-O123" is a
	// number, "hello" is not.
	others := strings.IndexFunc(out, func(r rune) bool { return unicode.IsLetter(r) && r != 'o' && r != 'l' && r != 'i' })
	if others < 0 {
		out = strings.NewReplacer("o", "0", "l", "1", "i", "1").Replace(out)
	}
	return out
}

// wordAt returns the length of the longest digit or filler word at s[i:] and its digit (0 for
// a filler).
func wordAt(s []rune, i int) (int, byte) {
	best, digit := 0, byte(0)
	for w, d := range spelledDigits {
		if n := len(w); n > best && hasWordAt(s, i, w) {
			best, digit = n, d
		}
	}
	for _, w := range fillerWords {
		if n := len(w); n > best && hasWordAt(s, i, w) {
			best, digit = n, 0
		}
	}
	return best, digit
}

func hasWordAt(s []rune, i int, w string) bool {
	if i+len(w) > len(s) {
		return false
	}
	return string(s[i:i+len(w)]) == w
}
