package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
)

// Trait fields: the keys of PushConfig.Names, and the default trait names
// after the prefix (and the profile's name, for a profile other than the
// default one).
const (
	// TraitScore is the score: an account's average score, a user's score.
	TraitScore = "score"
	// TraitTotalScore is an account's total score (accounts only).
	TraitTotalScore = "total_score"
	// TraitTier is the band: most_engaged, engaged, passive,
	// least_engaged or inactive.
	TraitTier = "tier"
	// TraitTrend is the score change since one time frame earlier.
	TraitTrend = "trend"
	// TraitActiveUsers is an account's active users (accounts only).
	TraitActiveUsers = "active_users"
	// TraitTotalUsers is an account's total users (accounts only).
	TraitTotalUsers = "total_users"
	// TraitActivePct is an account's % of active users (accounts only).
	TraitActivePct = "active_pct"
	// TraitFrequency is the number of active days in the time frame.
	TraitFrequency = "frequency"
	// TraitLastActive is the last scored event (ISO 8601, null if never).
	TraitLastActive = "last_active"
	// TraitAdoption is the % of scored events done in the time frame.
	TraitAdoption = "adoption"
	// TraitActivation is the % of activation criteria met (null when the
	// profile has none).
	TraitActivation = "activation"
)

// OmitTrait, as a name in PushConfig.Names, leaves the trait out.
const OmitTrait = "-"

// field indexes the trait fields.
type field uint8

const (
	fScore field = iota
	fTotalScore
	fTier
	fTrend
	fActiveUsers
	fTotalUsers
	fActivePct
	fFrequency
	fLastActive
	fAdoption
	fActivation
	numFields
)

// key returns the field's key in PushConfig.Names.
func (f field) key() string {
	return [numFields]string{TraitScore, TraitTotalScore, TraitTier, TraitTrend, TraitActiveUsers, TraitTotalUsers,
		TraitActivePct, TraitFrequency, TraitLastActive, TraitAdoption, TraitActivation}[f]
}

// forUsers reports whether users have the field; accounts have them all.
func (f field) forUsers() bool {
	switch f {
	case fTotalScore, fActiveUsers, fTotalUsers, fActivePct:
		return false
	}
	return true
}

func fieldOf(key string) (field, bool) {
	for f := range numFields {
		if f.key() == key {
			return f, true
		}
	}
	return 0, false
}

// layout is the trait names one profile pushes for one kind of entity.
type layout struct {
	names [numFields]string // "" when the field is not pushed
	order []field           // the pushed fields, sorted by name
}

// newLayouts builds the account and user layouts of a profile.
func newLayouts(cfg *PushConfig, profile string) (accounts, users layout, err error) {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultTraitPrefix
	}
	if profile != trackplan.DefaultProfileName {
		infix := traitSlug(profile)
		if infix == "" {
			return layout{}, layout{}, fmt.Errorf("profile %q: no trait name can be made of its name", profile)
		}
		prefix += infix + "_"
	}
	for f := range numFields {
		name := f.key()
		if n, ok := cfg.Names[name]; ok {
			name = n
		}
		if name == OmitTrait {
			continue
		}
		accounts.names[f] = prefix + name
		if f.forUsers() {
			users.names[f] = prefix + name
		}
	}
	for _, l := range []*layout{&accounts, &users} {
		seen := map[string]field{}
		for f := range numFields {
			n := l.names[f]
			if n == "" {
				continue
			}
			if g, dup := seen[n]; dup {
				return layout{}, layout{}, fmt.Errorf("traits %s and %s are both named %q", g.key(), f.key(), n)
			}
			seen[n] = f
			l.order = append(l.order, f)
		}
		sort.Slice(l.order, func(i, j int) bool { return l.names[l.order[i]] < l.names[l.order[j]] })
	}
	return accounts, users, nil
}

// TraitNames returns the exact trait names a push with c writes: the
// accounts' (group calls) and the users' (identify calls), of every profile
// in c.Profiles (the default profile when there is none), each sorted and
// without duplicates. Users' names are listed even when c.Identify is off,
// since earlier pushes may have sent them. A profile whose names cannot be
// made (see Validate) is left out.
func (c PushConfig) TraitNames() (accounts, users []string) {
	profiles := c.Profiles
	if len(profiles) == 0 {
		profiles = []string{trackplan.DefaultProfileName}
	}
	seenA, seenU := map[string]bool{}, map[string]bool{}
	for _, p := range profiles {
		a, u, err := newLayouts(&c, p)
		if err != nil {
			continue
		}
		for _, f := range a.order {
			if n := a.names[f]; !seenA[n] {
				seenA[n] = true
				accounts = append(accounts, n)
			}
		}
		for _, f := range u.order {
			if n := u.names[f]; !seenU[n] {
				seenU[n] = true
				users = append(users, n)
			}
		}
	}
	sort.Strings(accounts)
	sort.Strings(users)
	return accounts, users
}

// traitSlug turns a profile name into a trait-name part: lower case
// letters and digits, other runs of characters as one underscore.
func traitSlug(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		gap = true
	}
	return b.String()
}

// value kinds.
const (
	vNull uint8 = iota
	vNumber
	vString
)

// value is one trait value: null, a number or a string.
type value struct {
	kind uint8
	num  float64
	str  string
}

func number(f float64) value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value{}
	}
	return value{kind: vNumber, num: f}
}

func timeValue(t *time.Time) value {
	if t == nil || t.IsZero() {
		return value{}
	}
	return value{kind: vString, str: t.UTC().Format(time.RFC3339)}
}

func optNumber(p *float64) value {
	if p == nil {
		return value{}
	}
	return number(*p)
}

// values holds an entity's value of every field.
type values [numFields]value

func accountValues(a *trackplan.AccountScore) values {
	var v values
	v[fScore] = number(a.AverageScore)
	v[fTotalScore] = number(float64(a.TotalScore))
	v[fTier] = value{kind: vString, str: string(a.Band)}
	v[fTrend] = number(a.Trend.Change)
	v[fActiveUsers] = number(float64(a.ActiveUsers))
	v[fTotalUsers] = number(float64(a.TotalUsers))
	v[fActivePct] = number(a.ActivePct)
	v[fFrequency] = number(float64(a.Frequency))
	v[fLastActive] = timeValue(a.LastActive)
	v[fAdoption] = number(a.Adoption.Window)
	v[fActivation] = optNumber(a.Activation)
	return v
}

func userValues(u *trackplan.UserScore) values {
	var v values
	v[fScore] = number(float64(u.Score))
	v[fTier] = value{kind: vString, str: string(u.Band)}
	v[fTrend] = number(u.Trend.Change)
	v[fFrequency] = number(float64(u.Frequency))
	v[fLastActive] = timeValue(u.LastActive)
	v[fAdoption] = number(u.Adoption.Window)
	v[fActivation] = optNumber(u.Activation)
	return v
}

// encode appends the canonical JSON of the pushed traits: keys sorted,
// numbers in their shortest form, no spaces. Equal traits encode equally.
func (l *layout) encode(b []byte, v *values) []byte {
	b = append(b, '{')
	for i, f := range l.order {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, l.names[f])
		b = append(b, ':')
		switch x := v[f]; x.kind {
		case vNumber:
			b = strconv.AppendFloat(b, x.num, 'f', -1, 64)
		case vString:
			b = appendString(b, x.str)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// traits returns the pushed traits as a message's trait map.
func (l *layout) traits(v *values) map[string]any {
	m := make(map[string]any, len(l.order))
	for _, f := range l.order {
		switch x := v[f]; x.kind {
		case vNumber:
			m[l.names[f]] = x.num
		case vString:
			m[l.names[f]] = x.str
		default:
			m[l.names[f]] = nil
		}
	}
	return m
}

// appendString appends s as a JSON string, exactly as encoding/json
// writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// digest is a 128-bit content digest.
type digest [16]byte

func (d digest) String() string { return hex.EncodeToString(d[:]) }

func parseDigest(s string) (digest, bool) {
	var d digest
	if len(s) != 2*len(d) {
		return d, false
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err == nil
}

// traitDigest is the digest of canonical traits, stored in the ledger.
func traitDigest(canonical []byte) digest {
	sum := sha256.Sum256(canonical)
	return digest(sum[:16])
}

// messageIDPrefix starts every messageId of a push.
const messageIDPrefix = "tp-"

// messageDigest derives a message's identity from the profile, the
// entity, the model version, the digest of the entity's last acknowledged
// traits ("" when none) and the traits themselves.
func messageDigest(profile string, kind string, id, model, prev string, canonical []byte) digest {
	h := sha256.New()
	for _, s := range []string{profile, kind, id, model, prev} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(canonical)
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

func messageID(d digest) string { return messageIDPrefix + d.String() }

func parseMessageID(id string) (digest, bool) {
	rest, ok := strings.CutPrefix(id, messageIDPrefix)
	if !ok {
		return digest{}, false
	}
	return parseDigest(rest)
}

// ackedMove is what a threshold compares: the acknowledged score and tier.
type ackedMove struct {
	score    float64
	hasScore bool
	tier     string
	hasTier  bool
}

// readMove reads the score and tier from acknowledged traits.
func (l *layout) readMove(traits json.RawMessage) ackedMove {
	var m map[string]json.RawMessage
	var out ackedMove
	if json.Unmarshal(traits, &m) != nil {
		return out
	}
	if raw, ok := m[l.names[fScore]]; ok && l.names[fScore] != "" && string(raw) != "null" {
		out.hasScore = json.Unmarshal(raw, &out.score) == nil
	}
	if raw, ok := m[l.names[fTier]]; ok && l.names[fTier] != "" && string(raw) != "null" {
		out.hasTier = json.Unmarshal(raw, &out.tier) == nil
	}
	return out
}

// moved reports whether v moved enough from the acknowledged traits to be
// pushed: the score by at least threshold points, or the tier. Traits that
// cannot be compared (renamed, missing) count as moved.
func (l *layout) moved(acked ackedMove, v *values, threshold float64) bool {
	if l.names[fTier] != "" {
		if !acked.hasTier || v[fTier].str != acked.tier {
			return true
		}
	}
	if l.names[fScore] != "" {
		if !acked.hasScore || v[fScore].kind != vNumber || math.Abs(v[fScore].num-acked.score) >= threshold {
			return true
		}
	}
	return false
}
