package report

import (
	"strings"
	"testing"
)

func TestTerminal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Report Exported", "Report Exported"},
		{"Données exportées", "Données exportées"},
		{"X\x1b[2K\r0 errors", `X\x1b[2K\r0 errors`},
		{"a\nb\tc", `a\nb\tc`},
		{"bell\a del\x7f c1\u0085", `bell\x07 del\x7f c1\x85`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"bad \xff byte", `bad \xff byte`},
	}
	for _, tt := range tests {
		if got := Terminal(tt.in); got != tt.want {
			t.Errorf("Terminal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme", "Acme"},
		{`=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"+1", "'+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CSVCell(tt.in); got != tt.want {
			t.Errorf("CSVCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMarkdownCellInert: nothing from an event renders as a link, an
// image, a mention, HTML or a new row.
func TestMarkdownCellInert(t *testing.T) {
	tests := []struct{ in, forbidden string }{
		{"![x](https://evil.example/p.png)", "!["},
		{"[click](https://evil.example)", "[click]"},
		{"@everyone look", "@everyone"},
		{"@org/team", "@org"},
		{"see https://evil.example/x", "https://"},
		{"www.evil.example", "www."},
		{"<img src=x onerror=alert(1)>", "<img"},
		{"a|b\n| forged | row |", "\n"},
		{"X\x1b[31m", "\x1b"},
	}
	for _, tt := range tests {
		got := MarkdownCell(tt.in)
		if strings.Contains(got, tt.forbidden) {
			t.Errorf("MarkdownCell(%q) = %q still holds %q", tt.in, got, tt.forbidden)
		}
	}
}
