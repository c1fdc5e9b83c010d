package forward

import (
	"encoding/json"
	"errors"
)

// member is one key of a JSON object and where its value lies in the
// object's text: text[start:end].
type member struct {
	key        string
	start, end int
}

var errNotObject = errors.New("not a JSON object")

// members lists the keys of the JSON object text and the spans of their
// values, without decoding the values: forwarding adds a few fields to a
// message it otherwise sends as it is, so it reads only the top level.
// text must be valid JSON (the log keeps only valid JSON); close is the
// position of the object's closing brace.
func members(text []byte) (ms []member, close int, err error) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return nil, 0, errNotObject
	}
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		return nil, i, nil
	}
	for i < len(text) {
		if text[i] != '"' {
			return nil, 0, errNotObject
		}
		kEnd := skipString(text, i)
		key := string(text[i+1 : kEnd-1])
		for _, c := range text[i+1 : kEnd-1] {
			if c == '\\' { // an escaped key: decode it
				if err := json.Unmarshal(text[i:kEnd], &key); err != nil {
					return nil, 0, err
				}
				break
			}
		}
		i = skipSpace(text, kEnd)
		if i >= len(text) || text[i] != ':' {
			return nil, 0, errNotObject
		}
		start := skipSpace(text, i+1)
		end := skipValue(text, start)
		ms = append(ms, member{key: key, start: start, end: end})
		i = skipSpace(text, end)
		if i >= len(text) {
			break
		}
		switch text[i] {
		case ',':
			i = skipSpace(text, i+1)
		case '}':
			return ms, i, nil
		default:
			return nil, 0, errNotObject
		}
	}
	return nil, 0, errNotObject
}

// find returns the last member named key (Go's decoders keep the last of
// duplicate keys) and whether there is one.
func find(ms []member, key string) (member, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].key == key {
			return ms[i], true
		}
	}
	return member{}, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the position after the string that starts at i.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the position after the value that starts at i.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
			i++
		}
		return i
	}
}
