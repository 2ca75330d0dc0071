package apiserver

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/triggerflow/triggerflow/domain"
)

// jsonbProblem reports why valid JSON could not be stored in a PostgreSQL
// jsonb column, or "" when it can. jsonb refuses three things JSON allows:
// the NUL character (\u0000), a UTF-16 surrogate escape that is not half of
// a pair (\ud800 alone), and numbers outside the numeric type's range
// (1e999999). Numbers are held to float64's range, which numeric covers
// with room to spare, so a ten-byte literal cannot become a 100 KB value.
// raw must already be valid JSON.
func jsonbProblem(raw []byte) string {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			end, msg := scanJSONString(raw, i+1)
			if msg != "" {
				return msg
			}
			i = end
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			if _, err := strconv.ParseFloat(string(raw[i:j]), 64); err != nil {
				num := string(raw[i:j])
				if len(num) > 40 {
					num = num[:40] + "…"
				}
				return "holds the number " + num + ", which is out of range (numbers must be within ±1.7e308 and not closer to 0 than 5e-324)"
			}
			i = j - 1
		}
	}
	return ""
}

// scanJSONString checks the string starting after its opening quote at i and
// returns the index of its closing quote.
func scanJSONString(raw []byte, i int) (int, string) {
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			return i, ""
		case '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				code, ok := hex4(raw, i+2)
				if !ok {
					return i, "" // not valid JSON; the decoder reports it
				}
				switch {
				case code == 0:
					return i, "must not contain NUL characters (\\u0000)"
				case code >= 0xD800 && code <= 0xDBFF:
					if i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
						if low, ok := hex4(raw, i+8); ok && low >= 0xDC00 && low <= 0xDFFF {
							i += 11
							continue
						}
					}
					return i, "holds a lone UTF-16 surrogate escape (\\u" + string(raw[i+2:i+6]) + ") that is not half of a pair"
				case code >= 0xDC00 && code <= 0xDFFF:
					return i, "holds a lone UTF-16 surrogate escape (\\u" + string(raw[i+2:i+6]) + ") that is not half of a pair"
				}
				i += 5
				continue
			}
			i++ // the escaped character
		}
	}
	return i, ""
}

func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	return rune(v), err == nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// nulField finds a decoded string (or map key) holding a NUL character,
// which PostgreSQL's text and jsonb types refuse, and returns its JSON path
// ("name", "headers[\"X-A\"]", "steps[0].params.message"). Raw JSON fields
// (json.RawMessage) are left to their own checks. Nesting is bounded by
// maxJSONDepth, so the recursion is too.
func nulField(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, strings.IndexByte(v.String(), 0) >= 0
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", false
		}
		return nulField(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			p := domain.JoinPath(path, name)
			if sf.Anonymous {
				p = path
			}
			if found, ok := nulField(v.Field(i), p); ok {
				return found, true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false // raw JSON or bytes
		}
		for i := 0; i < v.Len(); i++ {
			if found, ok := nulField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); ok {
				return found, true
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			kp := path
			if k.Kind() == reflect.String {
				kp = fmt.Sprintf("%s[%q]", path, k.String())
				if strings.IndexByte(k.String(), 0) >= 0 {
					return path, true
				}
			}
			if found, ok := nulField(iter.Value(), kp); ok {
				return found, true
			}
		}
	}
	return "", false
}
