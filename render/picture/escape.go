package picture

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLabelRunes is where node labels are cut (with "…"); ids stay exact.
const maxLabelRunes = 40

// quoteID returns name as a quoted DOT ID that Graphviz keeps distinct from
// every other name and that survives SVG output:
//
//   - `"` becomes `\"` (DOT's only escape in IDs) and `\` becomes `\\`
//     (kept as two characters by the DOT lexer, so a trailing backslash cannot
//     swallow the closing quote);
//   - `&` becomes `&amp;`: Graphviz copies anything that looks like an entity
//     (`&x;`) into SVG unescaped, which would make invalid XML;
//   - control characters and invalid UTF-8 become `\xNN` per byte (XML 1.0
//     forbids most of them).
//
// The mapping is injective (it can be decoded left to right), so distinct
// names stay distinct nodes; SVG titles show the name, escaped this way.
func quoteID(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('"')
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && size == 1, unicode.IsControl(r):
			for _, c := range []byte(name[i : i+size]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '&':
			b.WriteString("&amp;")
		default:
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// quoteText returns s as a quoted DOT escString for labels and tooltips:
// valid UTF-8, control characters replaced by U+FFFD, `\` and `"` escaped,
// `&` written as the entity Graphviz turns back into `&`. Newlines wanted in
// a label are added by the caller as `\n` after quoting each part.
func quoteText(s string) string { return `"` + escText(s) + `"` }

func escText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsControl(r):
			b.WriteRune('\uFFFD')
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate cuts s to at most n runes, ending with "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// elementID returns a stable SVG element id: prefix, a readable sanitised
// part of each component, and a 64-bit FNV-1a hash of the exact components,
// so that ids are unique, ASCII, and usable as CSS selectors.
func elementID(prefix string, parts ...string) string {
	h := fnv.New64a()
	var b strings.Builder
	b.WriteString(prefix)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
		b.WriteByte('_')
		b.WriteString(sanitize(p, 24))
	}
	fmt.Fprintf(&b, "_%016x", h.Sum64())
	return b.String()
}

// sanitize keeps at most n bytes of [A-Za-z0-9_-] from s, mapping every
// other rune to '-'.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
