package names

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanEscapes(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{name: "empty", give: "", want: ""},
		{name: "ascii", give: "ratelimit:user-42", want: "ratelimit:user-42"},
		{name: "multibyte runes", give: "clé:日本:🙂", want: "clé:日本:🙂"},
		{name: "replacement rune kept", give: "a\uFFFDb", want: "a\uFFFDb"},
		{name: "escape text kept", give: `bin\xff`, want: `bin\xff`},
		{name: "invalid at start", give: "\xffkey", want: `\xffkey`},
		{name: "invalid in the middle", give: "bin\xff\xfe\xc0key", want: `bin\xff\xfe\xc0key`},
		{name: "invalid at end", give: "evil\xff", want: `evil\xff`},
		{name: "only invalid", give: "\x80\x81", want: `\x80\x81`},
		{name: "truncated rune", give: "a\xe6\x97", want: `a\xe6\x97`},
		{name: "surrogate", give: "\xed\xa0\x80", want: `\xed\xa0\x80`},
		{name: "lowercase hex", give: "\xAB\xCD", want: `\xab\xcd`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean(tt.give, DefaultMaxBytes); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

// With the bound of 64 bytes, a name of 100 to 999 bytes keeps at most 49
// bytes before its mark (64 - len("…[+") - 3 digits - len(" bytes]")).
func TestCleanCuts(t *testing.T) {
	a := strings.Repeat
	tests := []struct {
		name, give, want string
	}{
		{name: "at the bound", give: a("a", 64), want: a("a", 64)},
		{name: "one over the bound", give: a("a", 65), want: a("a", 50) + "…[+15 bytes]"},
		{name: "long", give: a("a", 100), want: a("a", 49) + "…[+51 bytes]"},
		{name: "cut at a rune boundary", give: a("a", 47) + "é" + a("b", 51), want: a("a", 47) + "é…[+51 bytes]"},
		{name: "cut inside a rune", give: a("a", 48) + "é" + a("b", 50), want: a("a", 48) + "…[+52 bytes]"},
		{name: "cut inside a 4-byte rune", give: a("a", 46) + "🙂" + a("b", 50), want: a("a", 46) + "…[+54 bytes]"},
		{name: "cut at an escape boundary", give: a("a", 45) + "\xff" + a("b", 54), want: a("a", 45) + `\xff…[+54 bytes]`},
		{name: "cut inside an escape", give: a("a", 47) + "\xff" + a("b", 52), want: a("a", 47) + "…[+53 bytes]"},
		{name: "escaping makes it too long", give: a("\xff", 20), want: a(`\xff`, 12) + "…[+8 bytes]"},
		{name: "huge", give: a("k", 1<<20), want: a("k", 45) + "…[+1048531 bytes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.give, 64)
			if got != tt.want {
				t.Errorf("Clean(%.80q..., 64) = %q, want %q", tt.give, got, tt.want)
			}
			if len(got) > 64 || !utf8.ValidString(got) {
				t.Errorf("Clean gave %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}

func TestCleanIsIdempotent(t *testing.T) {
	for _, give := range []string{
		"", "plain", "bin\xff\xfe\xc0key", strings.Repeat("é", 200), strings.Repeat("\xff", 300),
		strings.Repeat("a", 47) + "\xff" + strings.Repeat("b", 52), strings.Repeat("k", 1<<20),
	} {
		for _, bound := range []int{MinMaxBytes, 100, DefaultMaxBytes} {
			once := Clean(give, bound)
			if twice := Clean(once, bound); twice != once {
				t.Errorf("Clean(Clean(%.40q..., %d)) = %q, want %q", give, bound, twice, once)
			}
		}
	}
}

func TestCleanBoundBelowMinimum(t *testing.T) {
	give := strings.Repeat("a", 100)
	if got, want := Clean(give, 1), Clean(give, MinMaxBytes); got != want {
		t.Errorf("Clean(_, 1) = %q, want the result with MinMaxBytes, %q", got, want)
	}
}

func TestCleanValidShortDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("clé:", 50) // 250 bytes
	if n := testing.AllocsPerRun(100, func() { _ = Clean(s, DefaultMaxBytes) }); n != 0 {
		t.Errorf("Clean of a valid short name allocates %v times, want 0", n)
	}
}

func BenchmarkClean(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"valid", "ratelimit:user-1234567890"},
		{"invalid", "ratelimit:bin\xff\xfe\xc0key"},
		{"huge", strings.Repeat("k", 1<<20)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Clean(bc.s, DefaultMaxBytes)
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		give string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exact", 5, "exact"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},   // é is 2 bytes: not split
		{"aéb", 3, "aé"}, // ends right after it
		{"€uro", 2, ""},  // 3-byte rune at the start
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := Prefix(tt.give, tt.n); got != tt.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", tt.give, tt.n, got, tt.want)
		}
	}
}
