package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
)

// node is a parsed YAML or JSON value with the line it starts on: the common
// tree both formats are decoded from and encoded to.
type node struct {
	kind  kind
	line  int
	tag   string // scalars: str, int, float, bool, null (or another YAML tag)
	value string // scalars: the text, without quotes or escapes
	keys  []*node
	vals  []*node // mapping values, parallel to keys
	items []*node // sequence items
	flow  bool    // encode in YAML flow style
	yaml  *yaml.Node
}

type kind int

const (
	mappingNode kind = iota + 1
	sequenceNode
	scalarNode
)

// Scalar tags.
const (
	tagStr   = "str"
	tagInt   = "int"
	tagFloat = "float"
	tagBool  = "bool"
	tagNull  = "null"
	tagMerge = "merge"
)

// maxAliasNodes bounds the values a YAML document may reach through
// aliases, so that a small file cannot expand into a huge plan.
const maxAliasNodes = 100_000

// maxJSONDepth bounds the nesting of a JSON document.
const maxJSONDepth = 100

var errTooManyAliased = fmt.Errorf("aliases expand to more than %d values: %w", maxAliasNodes, trackplan.ErrTooLarge)

// parseYAML parses the single YAML document in data.
func parseYAML(data []byte) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty plan")
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fmt.Errorf("line %d: a plan file holds one YAML document", extra.Line)
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	budget := maxAliasNodes
	n, err := fromYAML(&doc, &budget, false)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, errors.New("empty plan")
	}
	return n, nil
}

// fromYAML converts y; aliased says whether y was reached through an alias,
// which counts against budget.
func fromYAML(y *yaml.Node, budget *int, aliased bool) (*node, error) {
	for hops := 0; y.Kind == yaml.AliasNode; hops++ {
		if y.Alias == nil || hops > 100 {
			return nil, fmt.Errorf("line %d: unresolvable alias", y.Line)
		}
		y, aliased = y.Alias, true
	}
	if aliased {
		if *budget--; *budget < 0 {
			return nil, errTooManyAliased
		}
	}
	n := &node{line: y.Line}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, nil
		}
		return fromYAML(y.Content[0], budget, aliased)
	case yaml.MappingNode:
		n.kind = mappingNode
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, err := fromYAML(y.Content[i], budget, aliased)
			if err != nil {
				return nil, err
			}
			v, err := fromYAML(y.Content[i+1], budget, aliased)
			if err != nil {
				return nil, err
			}
			n.keys, n.vals = append(n.keys, k), append(n.vals, v)
		}
	case yaml.SequenceNode:
		n.kind = sequenceNode
		for _, c := range y.Content {
			v, err := fromYAML(c, budget, aliased)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
	case yaml.ScalarNode:
		n.kind, n.value, n.yaml = scalarNode, y.Value, y
		switch t := y.ShortTag(); t {
		case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!merge":
			n.tag = t[2:]
		default:
			n.tag = t
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", y.Line)
	}
	return n, nil
}

// parseJSON parses the JSON value in data, keeping the line each value
// starts on.
func parseJSON(data []byte) (*node, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	p := jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty plan")
	}
	if err != nil {
		return nil, p.syntaxError(err)
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid JSON at line %d: data after the plan", p.line(p.start()))
	}
	return n, nil
}

type jsonParser struct {
	data []byte
	dec  *json.Decoder
	// lineAt and lineNo memoise the last line computed: offsets only grow
	// while parsing, so counting from there keeps line numbers linear.
	lineAt, lineNo int
}

// start returns the offset where the next token begins.
func (p *jsonParser) start() int {
	i := int(p.dec.InputOffset())
	for i < len(p.data) {
		switch p.data[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

func (p *jsonParser) line(offset int) int {
	offset = min(offset, len(p.data))
	if offset < p.lineAt {
		p.lineAt, p.lineNo = 0, 0
	}
	p.lineNo += bytes.Count(p.data[p.lineAt:offset], []byte{'\n'})
	p.lineAt = offset
	return 1 + p.lineNo
}

func (p *jsonParser) syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at line %d: %w", p.line(int(se.Offset)), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid JSON: unexpected end of input: %w", err)
	}
	return err
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("invalid JSON at line %d: nested deeper than %d levels", p.line(p.start()), maxJSONDepth)
	}
	n := &node{line: p.line(p.start())}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = mappingNode
			for p.dec.More() {
				k, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, v)
			}
		case '[':
			n.kind = sequenceNode
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
		default:
			return nil, fmt.Errorf("invalid JSON at line %d: unexpected %q", n.line, t)
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.tag, n.value = scalarNode, tagStr, t
	case json.Number:
		n.kind, n.tag, n.value = scalarNode, tagInt, string(t)
		if bytes.ContainsAny([]byte(t), ".eE") {
			n.tag = tagFloat
		}
	case bool:
		n.kind, n.tag, n.value = scalarNode, tagBool, fmt.Sprint(t)
	case nil:
		n.kind, n.tag, n.value = scalarNode, tagNull, "null"
	}
	return n, nil
}

// emitYAML renders n as a YAML document.
func emitYAML(n *node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(toYAML(n)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func toYAML(n *node) *yaml.Node {
	y := &yaml.Node{}
	if n.flow {
		y.Style = yaml.FlowStyle
	}
	switch n.kind {
	case mappingNode:
		y.Kind, y.Tag = yaml.MappingNode, "!!map"
		for i, k := range n.keys {
			y.Content = append(y.Content, toYAML(k), toYAML(n.vals[i]))
		}
	case sequenceNode:
		y.Kind, y.Tag = yaml.SequenceNode, "!!seq"
		for _, it := range n.items {
			y.Content = append(y.Content, toYAML(it))
		}
	default:
		y.Kind, y.Value = yaml.ScalarNode, n.value
		if n.tag != "" {
			y.Tag = "!!" + n.tag
		}
	}
	return y
}

// emitJSON renders n as indented JSON.
func emitJSON(n *node) ([]byte, error) {
	var compact bytes.Buffer
	if err := writeJSON(&compact, n); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *node) error {
	switch n.kind {
	case mappingNode:
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSONString(buf, k.value); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeJSON(buf, n.vals[i]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case sequenceNode:
		buf.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, it); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		switch {
		case n.tag == tagBool || n.tag == tagNull:
			buf.WriteString(n.value)
		case (n.tag == tagInt || n.tag == tagFloat || n.tag == "") && isJSONNumber(n.value):
			buf.WriteString(n.value)
		default:
			return writeJSONString(buf, n.value)
		}
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the encoder's newline
	return nil
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}
