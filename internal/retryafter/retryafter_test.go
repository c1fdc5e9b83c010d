package retryafter

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Mon, 02 Nov 2026 09:01:00 GMT", time.Minute, true},
		{"Mon, 02 Nov 2026 08:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		if got, ok := Parse(tt.in, now); got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", time.Minute: "60"} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%s) = %s; want %s", d, got, want)
		}
	}
}
