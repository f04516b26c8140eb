package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// problem is one thing wrong with the configuration, named as the user
// wrote it: the YAML line and key, or the flag.
type problem struct {
	line int    // line in the YAML file; 0: not from the file
	key  string // "receiver.max_request_bytes"; a flag: "--max-request-bytes (receiver.max_request_bytes)"
	msg  string
}

func (p problem) String() string {
	s := p.msg
	if p.key != "" {
		s = p.key + ": " + s
	}
	if p.line > 0 {
		s = fmt.Sprintf("line %d: %s", p.line, s)
	}
	return s
}

// configError is every problem of a configuration, file lines first.
type configError struct {
	path     string // the YAML file; empty: none
	problems []problem
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration")
	if e.path != "" {
		fmt.Fprintf(&b, " in %s", e.path)
	}
	b.WriteString(":")
	for _, p := range e.problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// decodeYAML decodes a YAML document over cfg, field by field, so that
// every problem is found in one pass: unknown and duplicate keys, and
// values of the wrong type (left at what cfg held). lines maps each key
// set to its line.
func decodeYAML(data []byte, cfg *Config) (lines map[string]int, probs []problem) {
	lines = map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return lines, []problem{syntaxProblem(err)}
	}
	if len(doc.Content) == 0 {
		return lines, nil
	}
	walkYAML(doc.Content[0], reflect.ValueOf(cfg).Elem(), "", lines, &probs)
	return lines, probs
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a YAML syntax error into a problem with its line.
func syntaxProblem(err error) problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return problem{line: n, msg: "not valid YAML: " + m[2]}
	}
	return problem{msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func walkYAML(n *yaml.Node, v reflect.Value, path string, lines map[string]int, probs *[]problem) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.Kind() != reflect.Struct {
		nv := reflect.New(v.Type())
		if err := n.Decode(nv.Interface()); err != nil {
			msg := fmt.Sprintf("want %s, got %s", typeWord(v.Type()), nodeWord(n))
			if te := (*yaml.TypeError)(nil); !errors.As(err, &te) {
				msg = err.Error() // a value's own UnmarshalYAML (pairing.FilterPolicy)
			}
			*probs = append(*probs, problem{line: n.Line, key: path, msg: msg})
			return
		}
		v.Set(nv.Elem())
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "receiver:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		*probs = append(*probs, problem{line: n.Line, key: path, msg: "want a mapping of keys, got " + nodeWord(n)})
		return
	}
	fields, names := structFields(v)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := joinKey(path, k.Value)
		f, ok := fields[k.Value]
		switch {
		case !ok:
			*probs = append(*probs, problem{line: k.Line, key: key, msg: "unknown key (known: " + strings.Join(names, ", ") + ")"})
			continue
		case seen[k.Value]:
			*probs = append(*probs, problem{line: k.Line, key: key, msg: fmt.Sprintf("set twice (first on line %d)", lines[key])})
			continue
		}
		seen[k.Value] = true
		lines[key] = k.Line
		walkYAML(val, f, key, lines, probs)
	}
}

func joinKey(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// structFields maps a struct's YAML keys to its fields, as yaml.v3 does
// (the tag's name, else the lowercased field name; inline structs flattened),
// and lists the keys in order.
func structFields(v reflect.Value) (map[string]reflect.Value, []string) {
	fields := map[string]reflect.Value{}
	var names []string
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			inner, innerNames := structFields(v.Field(i))
			for k, f := range inner {
				fields[k] = f
			}
			names = append(names, innerNames...)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		fields[name] = v.Field(i)
		names = append(names, name)
	}
	return fields, names
}

var durationType = reflect.TypeFor[time.Duration]()

// typeWord names what a field takes, in the user's words.
func typeWord(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (e.g. 10s, 5m)"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeWord(t.Elem()), "a "), "an ") + "s"
	}
	return "a value of another kind"
}

// nodeWord describes what the file holds at n.
func nodeWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// keyedProblems turns a component's validation error into problems named
// by key: its messages start with the key they are about ("max_nodes must
// be ...", "tls: cert_file ..."), which becomes section.key. lines and
// flags say where each key was set (flags win).
func keyedProblems(section string, err error, leaves map[string]bool, lines map[string]int, flags map[string]string) []problem {
	var out []problem
	for _, e := range leafErrors(err) {
		key, msg := splitKey(section, e.Error(), leaves)
		p := problem{key: key, msg: msg}
		if f, ok := flags[key]; ok {
			p.key = f + " (" + key + ")"
		} else {
			p.line = lines[key]
		}
		out = append(out, p)
	}
	return out
}

// leafErrors flattens errors.Join trees.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

var leadingWord = regexp.MustCompile(`^[a-z0-9_]+`)

// splitKey finds the key a message starts with: "max_nodes must be at
// least 2" in section graph is graph.max_nodes, "must be at least 2".
func splitKey(section, msg string, leaves map[string]bool) (key, rest string) {
	prefix, rest := section, msg
	for {
		w := leadingWord.FindString(rest)
		if w == "" {
			return section, msg
		}
		cand := prefix + "." + w
		after := rest[len(w):]
		if leaves[cand] {
			after = strings.TrimLeft(after, ": ")
			if strings.HasPrefix(after, "and ") || after == "" {
				return cand, msg
			}
			return cand, after
		}
		if !strings.HasPrefix(after, ": ") {
			return section, msg
		}
		prefix, rest = cand, after[2:]
	}
}

// leafKeys lists every YAML key that holds a value, by full path.
func leafKeys(v reflect.Value, path string, into map[string]bool) {
	fields, _ := structFields(v)
	for name, f := range fields {
		key := joinKey(path, name)
		if f.Kind() == reflect.Struct {
			leafKeys(f, key, into)
			continue
		}
		into[key] = true
	}
}

// sortProblems orders problems by line, those from no line last.
func sortProblems(ps []problem) {
	slices.SortStableFunc(ps, func(a, b problem) int {
		switch {
		case a.line == b.line:
			return 0
		case a.line == 0:
			return 1
		case b.line == 0:
			return -1
		}
		return a.line - b.line
	})
}
