package domain

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxCodeLength is the longest code: codes appear in URLs, logs and Temporal
// workflow ids, so they stay short.
const MaxCodeLength = 64

// SuggestCode derives a code from a display name, as Cotalker does after the
// Name field is filled in: "Nouvelle Tâche — urgent!" becomes
// "nouvelle_tache_urgent". Accented Latin letters lose their accents,
// Ukrainian and Russian letters are transliterated, whitespace and hyphens
// become "_", anything else is dropped. The result is at most MaxCodeLength
// long and is "" when nothing usable remains, in which case the user has to
// type a code.
func SuggestCode(name string) string {
	var b strings.Builder
	b.Grow(min(len(name), MaxCodeLength+8))
	pendingSep := false
	put := func(s string) {
		if pendingSep && b.Len() > 0 {
			b.WriteByte('_')
		}
		pendingSep = false
		b.WriteString(s)
	}
	for _, r := range norm.NFD.String(name) {
		if b.Len() >= MaxCodeLength {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			put(string(r))
		case r >= 'A' && r <= 'Z':
			put(string(r + ('a' - 'A')))
		case r == '_' || r == '-' || unicode.IsSpace(r):
			pendingSep = true
		case unicode.Is(unicode.Mn, r):
			// combining accent left by NFD: é is e + U+0301
		default:
			if t, ok := transliteration[unicode.ToLower(r)]; ok {
				put(t)
			}
		}
	}
	code := b.String()
	if len(code) > MaxCodeLength {
		code = code[:MaxCodeLength]
	}
	return strings.Trim(code, "_")
}

// transliteration covers the letters NFD does not decompose into ASCII plus
// the Cyrillic alphabets of the products TriggerFlow serves. (й, ї and ё
// decompose under NFD and arrive here as и, і and е.)
var transliteration = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
	'а': "a", 'б': "b", 'в': "v", 'г': "h", 'ґ': "g", 'д': "d", 'е': "e", 'є': "ie", 'ж': "zh",
	'з': "z", 'и': "y", 'і': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n",
	'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ь': "", 'ю': "iu", 'я': "ia", 'ы': "y",
	'э': "e", 'ъ': "",
}

// ValidateCode checks a code: 1 to MaxCodeLength characters from [a-z0-9_].
func ValidateCode(code string) error {
	switch {
	case code == "":
		return errors.New("is required")
	case len(code) > MaxCodeLength:
		return fmt.Errorf("must be at most %d characters long", MaxCodeLength)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			r, _ := utf8.DecodeRuneInString(code[i:])
			return fmt.Errorf("may contain only lowercase letters, digits and underscores; %q is not allowed", r)
		}
	}
	return nil
}

// FreeCode returns base when it is not taken, else the first of base_2,
// base_3 … base_<maxVariant> that is not, shortening base so the suffix fits
// in MaxCodeLength; "" when every one is taken.
func FreeCode(base string, taken func(string) bool, maxVariant int) string {
	if !taken(base) {
		return base
	}
	for n := 2; n <= maxVariant; n++ {
		suffix := fmt.Sprintf("_%d", n)
		stem := base
		if len(stem)+len(suffix) > MaxCodeLength {
			stem = strings.TrimRight(stem[:MaxCodeLength-len(suffix)], "_")
		}
		if code := stem + suffix; !taken(code) {
			return code
		}
	}
	return ""
}
