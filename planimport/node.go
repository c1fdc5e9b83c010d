package planimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type kind int

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "object", "array"}[k]
}

// node is a parsed JSON or YAML value that remembers its line, its path
// from the document's root and the order of its keys.
type node struct {
	kind kind
	line int
	path string
	keys []string
	obj  map[string]*node
	arr  []*node
	text string // a string's value, a number's literal
	b    bool
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	return n.obj[key]
}

// str returns a string value, or "" and false.
func (n *node) str() (string, bool) {
	if n == nil || n.kind != kString {
		return "", false
	}
	return n.text, true
}

// scalar renders a string, number or boolean value as text.
func (n *node) scalar() (string, bool) {
	switch n.kind {
	case kString, kNumber:
		return n.text, true
	case kBool:
		return strconv.FormatBool(n.b), true
	}
	return "", false
}

func (n *node) number() (float64, bool) {
	if n == nil || n.kind != kNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.text, 64)
	return f, err == nil
}

func childPath(parent, key string) string {
	if isIdent(key) {
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// parseJSON parses data keeping key order and lines. Paths start at "$".
func parseJSON(data []byte) (*node, error) {
	lines := lineStarts(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func(off int64) int {
		for int(off) < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return lineOf(lines, int(off))
	}
	var parse func(path string) (*node, error)
	parse = func(path string) (*node, error) {
		line := lineAt(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		n := &node{line: line, path: path}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n.kind, n.obj = kObject, map[string]*node{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					key := kt.(string)
					v, err := parse(childPath(path, key))
					if err != nil {
						return nil, err
					}
					if _, dup := n.obj[key]; dup {
						return nil, fmt.Errorf("line %d: duplicate key %q", v.line, key)
					}
					n.keys = append(n.keys, key)
					n.obj[key] = v
				}
			case '[':
				n.kind = kArray
				for i := 0; dec.More(); i++ {
					v, err := parse(fmt.Sprintf("%s[%d]", path, i))
					if err != nil {
						return nil, err
					}
					n.arr = append(n.arr, v)
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, err
			}
		case string:
			n.kind, n.text = kString, t
		case json.Number:
			n.kind, n.text = kNumber, t.String()
		case bool:
			n.kind, n.b = kBool, t
		case nil:
			n.kind = kNull
		}
		return n, nil
	}
	root, err := parse("$")
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("line %d: not valid JSON: %v", lineOf(lines, int(se.Offset)-1), se)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("line %d: not valid JSON: unexpected end of input", len(lines))
		}
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: not valid JSON: data after the top-level value", lineAt(dec.InputOffset()))
	}
	return root, nil
}

func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func lineOf(starts []int, off int) int {
	lo, hi := 0, len(starts)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if starts[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// parseYAML parses the first document of data. Paths start at "" and use
// dots: spec.properties[0].id.
func parseYAML(data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: kNull, line: 1}, nil
	}
	return fromYAML(doc.Content[0], "", 0)
}

func fromYAML(y *yaml.Node, path string, depth int) (*node, error) {
	if depth > 100 {
		return nil, fmt.Errorf("line %d: nested too deep", y.Line)
	}
	if y.Kind == yaml.AliasNode {
		return fromYAML(y.Alias, path, depth+1)
	}
	n := &node{line: y.Line, path: path}
	switch y.Kind {
	case yaml.MappingNode:
		n.kind, n.obj = kObject, map[string]*node{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			key := y.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			v, err := fromYAML(y.Content[i+1], p, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := n.obj[key]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", y.Content[i].Line, key)
			}
			n.keys = append(n.keys, key)
			n.obj[key] = v
		}
	case yaml.SequenceNode:
		n.kind = kArray
		for i, c := range y.Content {
			v, err := fromYAML(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.arr = append(n.arr, v)
		}
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!null":
			n.kind = kNull
		case "!!bool":
			n.kind = kBool
			n.b = strings.EqualFold(y.Value, "true")
		case "!!int", "!!float":
			n.kind, n.text = kNumber, y.Value
		default:
			n.kind, n.text = kString, y.Value
		}
	}
	return n, nil
}

// lineOfErr returns the line a parse error names ("line N: ..."), or 0.
func lineOfErr(err error) int {
	s := err.Error()
	rest, ok := strings.CutPrefix(s, "line ")
	if !ok {
		return 0
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(rest[:i])
	return n
}

// trimLine drops the "line N: " a parse error starts with, which the note
// carries as its line.
func trimLine(err error) string {
	s := err.Error()
	if lineOfErr(err) > 0 {
		s = s[strings.IndexByte(s, ':')+2:]
	}
	return s
}
