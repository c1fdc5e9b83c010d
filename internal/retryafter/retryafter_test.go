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
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 5 ", 5 * time.Second},
		{"-1", 0},
		{"soon", 0},
		{"Mon, 02 Nov 2026 09:01:00 GMT", time.Minute},
		{"Mon, 02 Nov 2026 08:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := Parse(tt.in, now); got != tt.want {
			t.Errorf("Parse(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
