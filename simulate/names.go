package simulate

import (
	"math/rand/v2"
	"strings"
	"unicode"
)

// Word lists for realistic names. They are read-only.
var (
	firstNames = []string{
		"Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Camille", "Carlos", "Chen", "Chloe",
		"Daniel", "Dmitri", "Elena", "Emeka", "Emma", "Fatima", "Felix", "Grace", "Hana", "Hiro",
		"Ines", "Isaac", "Jamal", "Jonas", "Julia", "Kai", "Kofi", "Laura", "Leila", "Liam",
		"Lucas", "Maya", "Mei", "Mateo", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rafael",
		"Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tom", "Valentina", "Wei", "Yara", "Zoe",
	}
	lastNames = []string{
		"Abara", "Andersen", "Banerjee", "Bauer", "Brown", "Campbell", "Chen", "Costa", "Dubois", "Eriksson",
		"Fernandes", "Fischer", "Garcia", "Haddad", "Hughes", "Ito", "Jensen", "Kim", "Kowalski", "Larsen",
		"Lopez", "Martin", "Mensah", "Moreau", "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Petrov",
		"Quinn", "Rahman", "Rossi", "Santos", "Schmidt", "Singh", "Suzuki", "Taylor", "Tanaka", "Varga",
		"Walsh", "Wang", "Weber", "Williams", "Yilmaz", "Zhang",
	}
	companyPrefixes = []string{
		"Acme", "Apex", "Bluefin", "Brightline", "Cedar", "Cobalt", "Copperleaf", "Driftwood", "Ember", "Evergreen",
		"Fathom", "Foxglove", "Granite", "Harbor", "Helix", "Ironclad", "Juniper", "Keystone", "Lumen", "Meridian",
		"Northwind", "Nimbus", "Oakridge", "Orbit", "Paragon", "Pinnacle", "Quartz", "Redwood", "Sierra", "Silverline",
		"Solstice", "Summit", "Tidewater", "Trailhead", "Umbra", "Vantage", "Verdant", "Waypoint", "Willow", "Zenith",
	}
	companySuffixes = []string{
		"Analytics", "Labs", "Logistics", "Health", "Robotics", "Systems", "Software", "Capital", "Foods", "Energy",
		"Media", "Networks", "Partners", "Retail", "Studios", "Works", "Bio", "Cloud", "Finance", "Learning",
	}
	tlds       = []string{"com", "io", "co", "ai", "dev"}
	industries = []string{
		"Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Education",
		"Media", "Logistics", "Energy", "Real Estate", "Hospitality", "Non-profit",
	}
	jobTitles = []string{
		"Head of Growth", "Product Manager", "Data Engineer", "VP Engineering", "Customer Success Manager",
		"Marketing Analyst", "CTO", "Software Engineer", "Operations Lead", "Account Executive",
		"Head of Data", "Designer", "Founder", "Revenue Operations Manager", "Support Specialist",
	}
	roles        = []string{"admin", "member", "member", "member", "viewer", "owner"}
	features     = []string{"dashboards", "alerts", "segments", "funnels", "exports", "api", "sso", "audit_log", "workflows", "templates"}
	integrations = []string{"Salesforce", "HubSpot", "Slack", "Intercom", "Zendesk", "Snowflake", "BigQuery", "Stripe", "Jira", "GitHub"}
	reasons      = []string{"too expensive", "missing feature", "switched tool", "project ended", "not using it", "other"}
	docWords     = []string{"Quarterly", "Weekly", "Pipeline", "Revenue", "Churn", "Activation", "Retention", "Usage", "Funnel", "Cohort", "Board", "Ops"}
	docKinds     = []string{"review", "overview", "report", "tracker", "summary", "deep dive", "dashboard"}
	pageNames    = []string{"Home", "Dashboard", "Reports", "Settings", "Billing", "Integrations", "Team", "Onboarding"}
	formats      = []string{"csv", "pdf", "xlsx"}
	countries    = []string{"US", "GB", "DE", "FR", "NL", "SE", "IN", "BR", "JP", "AU", "CA", "ES"}
	timezones    = []string{"America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// slug lowercases s and joins its words with sep.
func slug(s, sep string) string {
	var words []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		words = append(words, strings.ToLower(w))
	}
	return strings.Join(words, sep)
}

// snakeName normalises a property name for semantic matching:
// "createdAt" and "Created At" both become "created_at".
func snakeName(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			prevLower = true
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			prevLower = false
		}
	}
	return strings.Trim(b.String(), "_")
}

const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// randomID returns prefix followed by n random characters.
func randomID(r *rand.Rand, prefix string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	return prefix + string(b)
}

func docTitle(r *rand.Rand) string {
	return pick(r, docWords) + " " + pick(r, docKinds)
}
