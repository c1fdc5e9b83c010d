package codegen

import (
	"strconv"
	"strings"
	"unicode"
)

// words splits a plan name into its words: runs of letters and digits,
// with a new word at each lower-to-upper change ("Report Exported",
// "row_count", "utmSource", "Sign-Up v2" → Report Exported, row count,
// utm Source, Sign Up v2).
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	return out
}

// pascal is s in PascalCase, made of ASCII letters and digits only;
// "" when nothing of s is left.
func pascal(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		w = asciiOnly(w)
		if w == "" {
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(w[1:])
	}
	return b.String()
}

// camel is s in camelCase, ASCII only.
func camel(s string) string {
	p := pascal(s)
	if p == "" {
		return ""
	}
	// Lower the leading run of capitals but the last when a lower-case
	// letter follows it: "URLPath" → "urlPath", "ID" → "id".
	r := []byte(p)
	i := 0
	for i < len(r) && r[i] >= 'A' && r[i] <= 'Z' {
		i++
	}
	switch {
	case i == 0:
	case i == 1 || i == len(r):
		for j := range i {
			r[j] += 'a' - 'A'
		}
	default:
		if r[i] >= 'a' && r[i] <= 'z' {
			i--
		}
		for j := range i {
			r[j] += 'a' - 'A'
		}
	}
	return string(r)
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// namer hands out unique identifiers in one scope: a name already taken
// (or reserved) gets a numeric suffix, 2, 3, …, in the order asked, so
// the same plan always gives the same names.
type namer struct {
	fixed map[string]bool // reserved names shared by many scopes; read only
	taken map[string]bool
}

func newNamer(reserved ...string) *namer {
	n := &namer{taken: map[string]bool{}}
	for _, r := range reserved {
		n.taken[r] = true
	}
	return n
}

// reservedSet is a set of names for namers that share it.
func reservedSet(names ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range names {
		for _, n := range l {
			m[n] = true
		}
	}
	return m
}

// newScopedNamer returns a namer whose reserved names are fixed, shared
// and not copied.
func newScopedNamer(fixed map[string]bool) *namer {
	return &namer{fixed: fixed, taken: map[string]bool{}}
}

// name returns base, or base with the smallest free suffix; fallback is
// used when base is empty, and a base starting with a digit is prefixed
// with prefix.
func (n *namer) name(base, fallback, prefix string) string {
	if base == "" {
		base = fallback
	}
	if base[0] >= '0' && base[0] <= '9' {
		base = prefix + base
	}
	name := base
	for i := 2; n.taken[name] || n.fixed[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	n.taken[name] = true
	return name
}
