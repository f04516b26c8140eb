package pairing

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FilterPolicy keeps or drops spans before pairing, as Grafana Tempo's
// metrics-generator filter_policies do: a span is kept only if, for every
// policy, it matches the policy's Include (when set) and does not match its
// Exclude (when set). A dropped span is handled as if it had never been
// sent (README "Filter policies").
type FilterPolicy struct {
	Include *PolicyMatch `yaml:"include"`
	Exclude *PolicyMatch `yaml:"exclude"`
}

// PolicyMatch matches a span when every one of its attributes does.
// MatchType is "strict" (the value equals, of the same type) or "regex"
// (Go RE2 syntax, unanchored, matched against the value as a string). No
// attributes: every span matches.
type PolicyMatch struct {
	MatchType  string           `yaml:"match_type"`
	Attributes []MatchAttribute `yaml:"attributes"`
}

// MatchAttribute is one condition. Key is an intrinsic, kind, name or
// status, or an attribute, span.<key> or resource.<key> (TraceQL's
// spelling, as Tempo takes them). Value is a string, whole number, number
// or boolean; kind takes SPAN_KIND_SERVER or server, status
// STATUS_CODE_ERROR or error (and OK, UNSET alike).
type MatchAttribute struct {
	Key   string `yaml:"key"`
	Value any    `yaml:"value"`
}

// UnmarshalYAML refuses unknown keys, as the rest of the configuration
// file does.
func (f *FilterPolicy) UnmarshalYAML(n *yaml.Node) error {
	type plain FilterPolicy
	return strictDecode(n, (*plain)(f), "include", "exclude")
}

// UnmarshalYAML refuses unknown keys.
func (m *PolicyMatch) UnmarshalYAML(n *yaml.Node) error {
	type plain PolicyMatch
	return strictDecode(n, (*plain)(m), "match_type", "attributes")
}

// UnmarshalYAML refuses unknown keys.
func (a *MatchAttribute) UnmarshalYAML(n *yaml.Node) error {
	type plain MatchAttribute
	return strictDecode(n, (*plain)(a), "key", "value")
}

func strictDecode(n *yaml.Node, v any, known ...string) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !contains(known, k) {
				return fmt.Errorf("line %d: unknown key %q (known: %s)", n.Content[i].Line, k, strings.Join(known, ", "))
			}
		}
	}
	return n.Decode(v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// What a condition reads of a span.
const (
	fieldKind uint8 = iota
	fieldName
	fieldStatus
	fieldSpan     // a span attribute
	fieldResource // a resource attribute
)

// Attribute value types a condition compares.
const (
	valNone uint8 = iota // missing
	valString
	valInt
	valDouble
	valBool
	valOther // bytes, array or map: never matches
)

// attrValue is one attribute value as a filter reads it.
type attrValue struct {
	typ uint8
	s   string
	i   int64
	f   float64
}

// text is the value as a regex sees it: strings as they are, numbers and
// booleans as Go formats them (-12, 1.5, true).
func (v attrValue) text() string {
	switch v.typ {
	case valString:
		return v.s
	case valInt:
		return strconv.FormatInt(v.i, 10)
	case valDouble:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case valBool:
		return strconv.FormatBool(v.i != 0)
	}
	return ""
}

func (v attrValue) equal(w attrValue) bool {
	if v.typ != w.typ {
		return false
	}
	switch v.typ {
	case valString:
		return v.s == w.s
	case valDouble:
		return v.f == w.f
	}
	return v.i == w.i
}

// cond is one compiled MatchAttribute.
type cond struct {
	field uint8
	key   string         // the attribute key, without its scope
	want  attrValue      // strict
	code  int32          // strict kind or status
	re    *regexp.Regexp // regex
}

// spanView is what a filter reads of one span: its intrinsics, and its
// attributes through attr (first occurrence of a key, as pcommon.Map.Get).
type spanView interface {
	intrinsics() (kind uint8, status int32, name string)
	attr(resource bool, key string) attrValue
}

func (c *cond) match(v spanView) bool {
	kind, status, name := v.intrinsics()
	switch c.field {
	case fieldKind:
		if c.re != nil {
			return c.re.MatchString(kindName(int32(kind)))
		}
		return int32(kind) == c.code
	case fieldStatus:
		if c.re != nil {
			return c.re.MatchString(statusName(status))
		}
		return status == c.code
	case fieldName:
		if c.re != nil {
			return c.re.MatchString(name)
		}
		return name == c.want.s
	}
	a := v.attr(c.field == fieldResource, c.key)
	if c.re != nil {
		return a.typ != valNone && a.typ != valOther && c.re.MatchString(a.text())
	}
	return a.equal(c.want)
}

var kindNames = [...]string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
	"SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}

var statusNames = [...]string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}

// kindName is the protobuf enum name, as Tempo's regexes see it.
func kindName(k int32) string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return strconv.Itoa(int(k))
}

func statusName(s int32) string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return strconv.Itoa(int(s))
}

// enumCode finds a strict kind or status value: the enum name or its
// lowercase suffix (SPAN_KIND_SERVER or server).
func enumCode(names []string, prefix string, v any) (int32, error) {
	s, ok := v.(string)
	if ok {
		for i, n := range names {
			if s == n || strings.ToUpper(s) == strings.TrimPrefix(n, prefix) && s == strings.ToLower(s) {
				return int32(i), nil
			}
		}
	}
	var short []string
	for _, n := range names {
		short = append(short, strings.ToLower(strings.TrimPrefix(n, prefix)))
	}
	return 0, fmt.Errorf("want one of %s (or %s), got %v", strings.Join(names, ", "), strings.Join(short, ", "), quoteValue(v))
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// matcher is a compiled PolicyMatch: every condition must hold.
type matcher struct{ conds []cond }

func (m *matcher) match(v spanView) bool {
	for i := range m.conds {
		if !m.conds[i].match(v) {
			return false
		}
	}
	return true
}

// spanFilter is the compiled FilterPolicies; nil keeps every span.
type spanFilter struct {
	policies []struct{ include, exclude *matcher }
	// spanKeys and resourceKeys are the attribute keys any condition
	// reads (the wire walk keeps only those).
	spanKeys, resourceKeys []string
}

// keep reports whether a span passes every policy.
func (f *spanFilter) keep(v spanView) bool {
	for _, p := range f.policies {
		if p.include != nil && !p.include.match(v) {
			return false
		}
		if p.exclude != nil && p.exclude.match(v) {
			return false
		}
	}
	return true
}

// newSpanFilter compiles the policies, reporting every problem at once;
// no policies: nil.
func newSpanFilter(policies []FilterPolicy) (*spanFilter, error) {
	if len(policies) == 0 {
		return nil, nil
	}
	f := &spanFilter{}
	var errs []error
	for i, p := range policies {
		if p.Include == nil && p.Exclude == nil {
			errs = append(errs, fmt.Errorf("filter_policies: policy %d: want include, exclude or both", i+1))
			continue
		}
		var cp struct{ include, exclude *matcher }
		for _, side := range []struct {
			name string
			pm   *PolicyMatch
			dst  **matcher
		}{{"include", p.Include, &cp.include}, {"exclude", p.Exclude, &cp.exclude}} {
			if side.pm == nil {
				continue
			}
			m, perrs := f.compile(side.pm)
			for _, err := range perrs {
				errs = append(errs, fmt.Errorf("filter_policies: policy %d: %s: %w", i+1, side.name, err))
			}
			*side.dst = m
		}
		f.policies = append(f.policies, cp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// compile compiles one side of a policy; it returns every problem.
func (f *spanFilter) compile(pm *PolicyMatch) (*matcher, []error) {
	regex := false
	switch pm.MatchType {
	case "strict":
	case "regex":
		regex = true
	default:
		return nil, []error{fmt.Errorf("match_type must be strict or regex, got %q", pm.MatchType)}
	}
	m := &matcher{}
	var errs []error
	for j, a := range pm.Attributes {
		c, err := f.compileCond(a, regex)
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute %d (%q): %w", j+1, a.Key, err))
			continue
		}
		m.conds = append(m.conds, c)
	}
	return m, errs
}

func (f *spanFilter) compileCond(a MatchAttribute, regex bool) (cond, error) {
	var c cond
	switch {
	case a.Key == "kind":
		c.field = fieldKind
	case a.Key == "name":
		c.field = fieldName
	case a.Key == "status":
		c.field = fieldStatus
	case strings.HasPrefix(a.Key, "span.") && len(a.Key) > len("span."):
		c.field, c.key = fieldSpan, a.Key[len("span."):]
		if !contains(f.spanKeys, c.key) {
			f.spanKeys = append(f.spanKeys, c.key)
		}
	case strings.HasPrefix(a.Key, "resource.") && len(a.Key) > len("resource."):
		c.field, c.key = fieldResource, a.Key[len("resource."):]
		if !contains(f.resourceKeys, c.key) {
			f.resourceKeys = append(f.resourceKeys, c.key)
		}
	default:
		return c, errors.New("key must be kind, name, status, span.<attribute> or resource.<attribute>")
	}
	if regex {
		s, ok := a.Value.(string)
		if !ok {
			return c, fmt.Errorf("a regex value must be a string, got %v", quoteValue(a.Value))
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return c, fmt.Errorf("bad regex: %w", err)
		}
		c.re = re
		return c, nil
	}
	var err error
	switch c.field {
	case fieldKind:
		c.code, err = enumCode(kindNames[:], "SPAN_KIND_", a.Value)
	case fieldStatus:
		c.code, err = enumCode(statusNames[:], "STATUS_CODE_", a.Value)
	case fieldName:
		s, ok := a.Value.(string)
		if !ok {
			err = fmt.Errorf("name takes a string, got %v", quoteValue(a.Value))
		}
		c.want = attrValue{typ: valString, s: s}
	default:
		c.want, err = strictValue(a.Value)
	}
	return c, err
}

// strictValue types a YAML value: string, whole number, number or
// boolean.
func strictValue(v any) (attrValue, error) {
	switch x := v.(type) {
	case string:
		return attrValue{typ: valString, s: x}, nil
	case int:
		return attrValue{typ: valInt, i: int64(x)}, nil
	case int64:
		return attrValue{typ: valInt, i: x}, nil
	case uint64:
		if x > math.MaxInt64 {
			return attrValue{}, fmt.Errorf("value %d does not fit an int64 attribute", x)
		}
		return attrValue{typ: valInt, i: int64(x)}, nil
	case float64:
		return attrValue{typ: valDouble, f: x}, nil
	case bool:
		b := attrValue{typ: valBool}
		if x {
			b.i = 1
		}
		return b, nil
	case nil:
		return attrValue{}, errors.New("value missing")
	}
	return attrValue{}, fmt.Errorf("value must be a string, number or boolean, got %T", v)
}
