package names

import "testing"

func TestUnescapeInvertsClean(t *testing.T) {
	for _, give := range []string{"user:1", "bin\xff\x80key", "é\xc3", `text \x41 \x7f stays`, `\xFF`} {
		got := Unescape(Clean(give, 256))
		want := give
		if give == `\xFF` {
			want = "\xff"
		}
		if got != want {
			t.Errorf("Unescape(Clean(%q)) = %q, want %q", give, got, want)
		}
	}
}

func TestIsCut(t *testing.T) {
	long := string(make([]byte, 300))
	tests := []struct {
		give string
		want bool
	}{
		{give: Clean(long, 64), want: true},
		{give: "user:1", want: false},
		{give: "a…[+ bytes]", want: false},
		{give: "a…[+1x bytes]", want: false},
		{give: "a…[+12 bytes]", want: true},
	}
	for _, tt := range tests {
		if got := IsCut(tt.give); got != tt.want {
			t.Errorf("IsCut(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
