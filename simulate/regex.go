package simulate

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
)

// patternMatcher compiles a plan pattern with JSON Schema's semantics: the
// value must contain a match (anchors in the pattern still apply).
func patternMatcher(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(pattern)
}

// wholeMatcher compiles a pattern so that a value must match it as a whole.
func wholeMatcher(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

// fromPattern returns a string matching pattern as a whole (so it satisfies
// the pattern whether a checker anchors it or not), or false when
// none was found in a few tries (patterns with assertions that random
// choices rarely satisfy, or invalid patterns).
func fromPattern(r *rand.Rand, pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	m, err := wholeMatcher(pattern)
	if err != nil {
		return "", false
	}
	for range 25 {
		var b strings.Builder
		writeRegex(r, &b, re, 0)
		if s := b.String(); m.MatchString(s) {
			return s, true
		}
	}
	return "", false
}

// maxRegexDepth bounds recursion into pathological patterns.
const maxRegexDepth = 64

func writeRegex(r *rand.Rand, b *strings.Builder, re *syntax.Regexp, depth int) {
	if depth > maxRegexDepth {
		return
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		b.WriteRune(classRune(r, re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte(byte('a' + r.IntN(26)))
	case syntax.OpCapture:
		writeRegex(r, b, re.Sub[0], depth+1)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			writeRegex(r, b, s, depth+1)
		}
	case syntax.OpAlternate:
		writeRegex(r, b, re.Sub[r.IntN(len(re.Sub))], depth+1)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 0
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, 3
		case syntax.OpPlus:
			lo, hi = 1, 4
		case syntax.OpQuest:
			lo, hi = 0, 1
		default:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+4 {
				hi = lo + 4
			}
		}
		n := lo
		if hi > lo {
			n += r.IntN(hi - lo + 1)
		}
		for range n {
			writeRegex(r, b, re.Sub[0], depth+1)
		}
	}
	// Empty matches, anchors and word boundaries produce nothing.
}

// classRune picks a rune from a character class given as [lo, hi] pairs,
// preferring printable ASCII so that negated classes ([^@]) stay readable.
func classRune(r *rand.Rand, ranges []rune) rune {
	if len(ranges) < 2 {
		return 'a'
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_."
	var in []rune
	for _, c := range alphabet {
		for i := 0; i+1 < len(ranges); i += 2 {
			if c >= ranges[i] && c <= ranges[i+1] {
				in = append(in, c)
				break
			}
		}
	}
	if len(in) > 0 {
		return in[r.IntN(len(in))]
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] >= 0x21 && ranges[i] <= 0x7e {
			return ranges[i]
		}
	}
	i := 2 * r.IntN(len(ranges)/2)
	return ranges[i]
}
