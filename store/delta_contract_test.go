package store

import "testing"

// TestContractExampleDatesAreNotPhones: dates, times and ISO timestamps are
// shown as they are; phone numbers and email addresses stay masked.
func TestContractExampleDatesAreNotPhones(t *testing.T) {
	const phone = "+*** (phone)"
	for in, want := range map[string]string{
		// dates, times, timestamps: kept
		"2024-01-31":                "2024-01-31",
		"2024.01.31":                "2024.01.31",
		"31-01-2024":                "31-01-2024",
		"31.01.2024":                "31.01.2024",
		"01-31-2024":                "01-31-2024",
		"2024-1-5":                  "2024-1-5",
		"2024-01-31 10:00:00":       "2024-01-31 10:00:00",
		"2024-01-31T10:00:00Z":      "2024-01-31T10:00:00Z",
		"2024-01-31T10:00:00+02:00": "2024-01-31T10:00:00+02:00",
		"2024-01-31 10:00":          "2024-01-31 10:00",
		"10:00:00":                  "10:00:00",
		"2024-01":                   "2024-01",
		"(2024-01-31)":              "(2024-01-31)",
		// phone numbers: masked
		"+1 (555) 010-9999":   phone,
		"+33 1 23 45 67 89":   phone,
		"555-010-9999":        phone,
		"(555) 010 9999":      phone,
		"+44 20 7946 0958":    phone,
		"0612345678":          phone,
		"+49.30.1234567":      phone,
		"+1-555-010-9999":     phone,
		"1-800-555-0199":      phone,
		"ada@example.com":     "***@example.com",
		"not a phone either":  "not a phone either",
		"1234":                "1234",
		"4111 1111 1111 1111": phone,
	} {
		got, ok := Example(in)
		if !ok || got != want {
			t.Errorf("Example(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
