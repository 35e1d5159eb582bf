package engine

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneInput bounds a phone number as written (separators included; an emoji keycap digit
// takes 7 bytes).
const maxPhoneInput = 160

// NormalizePhone returns a phone number as it is stored and searched:
//   - written in international form (+49 151 …, 0049 151 …): E.164 (+ and the digits), parsed
//     with libphonenumber's rules (github.com/nyaruka/phonenumbers), so that a national prefix
//     written in brackets is dropped (+49 (0) 170 … is +49170 …); the number must be possible
//     for its country (its length), else it is refused;
//   - otherwise (0170 …, (555) 123-4567): its digits only, since its country cannot be known;
//     4 to 15 digits.
//
// Digits of any script (Arabic-Indic ٠١٢, full-width ０１２, …) count as their ASCII digits and
// the full-width plus as '+'; the obfuscations of ads are undone first (readObfuscated: digits
// spelled out, O for 0, keycaps, "dot"). Only spaces, '-', '.', '/' and brackets may separate them: a
// number with letters, or none at all, is refused (ErrInvalid naming the number), never stored
// as an empty or partial string.
func NormalizePhone(p string) (string, error) {
	written := strings.TrimSpace(p)
	bad := func(why string) error { return fmt.Errorf("%q %s: %w", clip(written, maxPhoneInput), why, ErrInvalid) }
	if len(written) > maxPhoneInput {
		return "", bad(fmt.Sprintf("is longer than %d bytes", maxPhoneInput))
	}
	read := readObfuscated(written)
	if read != written {
		bad = func(why string) error {
			return fmt.Errorf("%q (read as %q) %s: %w", clip(written, maxPhoneInput), clip(strings.TrimSpace(read), maxPhoneInput), why, ErrInvalid)
		}
	}
	var b strings.Builder
	digits, other := 0, rune(-1)
	for i, r := range strings.TrimSpace(read) {
		switch {
		case unicode.IsDigit(r):
			b.WriteByte(byte('0' + digitValue(r)))
			digits++
		case (r == '+' || r == '＋') && i == 0:
			b.WriteByte('+')
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
			b.WriteByte(' ')
		case other < 0:
			other = r
		}
	}
	switch {
	case digits == 0 && !strings.HasPrefix(strings.ReplaceAll(b.String(), " ", ""), "+") || digits == 0 && other >= 0:
		return "", bad("has no digits")
	case other >= 0:
		return "", bad(fmt.Sprintf("contains %q: a phone number has only digits, a leading + and separators", other))
	}
	ascii := b.String()
	bare := strings.ReplaceAll(ascii, " ", "")
	if rest, ok := strings.CutPrefix(bare, "00"); ok {
		ascii, bare = "+"+strings.TrimLeft(strings.TrimSpace(ascii), "0"), "+"+rest
	}
	if !strings.HasPrefix(bare, "+") {
		if digits < 4 || digits > 15 {
			return "", bad(fmt.Sprintf("has %d digits: a phone number has 4 to 15", digits))
		}
		return bare, nil
	}
	if len(bare) == 1 {
		return "", bad("has no digits after the +")
	}
	num, err := phonenumbers.Parse(ascii, "ZZ")
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return "", bad("starts with no country code")
	}
	if err != nil {
		return "", bad("is not an international number: " + strings.ToLower(err.Error()))
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", bad("starts with no country code")
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY: // local only: an area's number without its area code
		return "", bad(fmt.Sprintf("is too short for country code +%d", num.GetCountryCode()))
	case phonenumbers.TOO_LONG:
		return "", bad(fmt.Sprintf("is too long for country code +%d", num.GetCountryCode()))
	default:
		return "", bad(fmt.Sprintf("is not a possible number for country code +%d", num.GetCountryCode()))
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	// The national prefix is dropped once (+49 (0) 170 …); a number that would lose another
	// leading digit when read back (+49 00 …) is not a number, and a stored number must read
	// back as itself.
	if again, err := phonenumbers.Parse(out, "ZZ"); err != nil || phonenumbers.Format(again, phonenumbers.E164) != out {
		return "", bad(fmt.Sprintf("is not a possible number for country code +%d", num.GetCountryCode()))
	}
	return out, nil
}

// digitValue is the value of a decimal digit of any script. Unicode keeps every script's
// digits 0 to 9 contiguous and in order, so each range of the Nd table is whole runs of ten
// starting at a zero.
func digitValue(r rune) int {
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	return 0
}

// clip shortens s to at most n bytes (on a rune boundary) for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
