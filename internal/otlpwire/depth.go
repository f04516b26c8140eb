package otlpwire

// MaxValueDepth bounds how deeply attribute values nest: an attribute's
// value (an AnyValue) is level 1, a value inside its array_value or
// kvlist_value level 2, and so on. A request with a value past this level
// is refused whole (consumer.ErrTooDeep). It is a protocol sanity bound,
// not a knob: it keeps every decoder's recursion, and the stack and memory
// it costs, small (pdata recurses once per level without any bound: a
// 16 MiB request a million levels deep overflows its 1 GB stack), and real
// attributes nest a handful of levels.
const MaxValueDepth = 128

// MaxJSONDepth bounds the bracket nesting ({ and [) of an OTLP/JSON
// request, which pdata's JSON decoder walks recursively too (a 16 MiB
// request nests half a million levels). It is the deepest a request nests
// when every value is within MaxValueDepth: a value of level 1 sits 12
// brackets in (request, resourceSpans, resource spans, scopeSpans, scope
// spans, spans, span, links or events, link or event, attributes,
// key-value, value; resource and scope attributes sit higher), each
// further level adds 4 through a kvlistValue (kvlistValue, values,
// key-value, value) or 3 through an arrayValue, and a value of the last
// level holds at most 2 more (the empty values of a kvlistValue or
// arrayValue). A request past it is refused as too deep, whatever the
// brackets hold; one within it may still hold a value past MaxValueDepth
// (through arrays), which the consumer refuses once decoded.
const MaxJSONDepth = 12 + 4*(MaxValueDepth-1) + 2

// JSONDepthWithin reports whether the JSON text b nests its objects and
// arrays at most limit deep. It reads b once, skipping strings (with their
// escapes), and neither allocates nor recurses; it does not validate b,
// which the JSON decoder does next.
func JSONDepthWithin(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > limit {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}
