// Package names makes strings that peers supply (Redis keys, node ids,
// addresses, error texts) safe to publish: valid UTF-8, so that no label
// value can fail a scrape, and bounded, so that no name can bloat a
// snapshot.
package names

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// DefaultMaxBytes is the bound on a published name when none is
	// configured.
	DefaultMaxBytes = 256
	// MinMaxBytes is the smallest bound Clean honours: room for the mark
	// of the longest possible cut and some of the name before it.
	MinMaxBytes = 64
)

// Mark pieces: a cut name ends with "…[+N bytes]", N being how many bytes
// of the original were left out.
const (
	markStart = "…[+"
	markEnd   = " bytes]"
)

// Clean returns s as it may be published: every byte that is not part of
// valid UTF-8 written as \xHH (lowercase hex, as redis-cli reads it in a
// quoted string, so that the key can still be looked up), and the result
// cut to at most maxBytes bytes, on a boundary between runes and escapes,
// ending with a mark that says how many bytes of s were cut.
//
// Valid UTF-8 is left as it is, so that Clean is idempotent: Clean of a
// result of Clean with the same bound is that result. It is deterministic
// but not injective: a name holding the text \xff and one holding the byte
// 0xff read the same, as do two long names cut alike. A string that is
// valid and short enough is returned without allocating. A maxBytes below
// MinMaxBytes is taken as MinMaxBytes.
func Clean(s string, maxBytes int) string {
	maxBytes = max(maxBytes, MinMaxBytes)
	if len(s) <= maxBytes && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(maxBytes)
	if escape(&b, s, maxBytes) == len(s) {
		return b.String()
	}
	// The mark's length depends on the number of bytes cut, at most
	// len(s): reserve room for that many digits.
	b.Reset()
	digits := len(strconv.Itoa(len(s)))
	budget := maxBytes - len(markStart) - digits - len(markEnd)
	used := escape(&b, s, budget)
	b.WriteString(markStart)
	b.WriteString(strconv.Itoa(len(s) - used))
	b.WriteString(markEnd)
	return b.String()
}

// Prefix is the longest prefix of s of at most n bytes that does not end
// inside a UTF-8 sequence: s itself when it is short enough.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Cut is s shortened to at most n bytes of valid UTF-8 and "...", or s
// itself when it is no longer than n: for a text taken from a peer's
// answer into an error.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// unit is the length of the rune or invalid byte at the start of s, and
// how many bytes it takes once escaped.
func unit(s string) (in, out int) {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return 1, len(`\xff`)
	}
	return size, size
}

// escape writes to b the runes of s, escaping invalid bytes, as many
// whole runes and escapes as fit in budget bytes, and returns how many
// bytes of s they stand for.
func escape(b *strings.Builder, s string, budget int) int {
	const hex = "0123456789abcdef"
	i := 0
	for i < len(s) {
		in, out := unit(s[i:])
		if b.Len()+out > budget {
			break
		}
		if in == out {
			b.WriteString(s[i : i+in])
		} else {
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&0xf])
		}
		i += in
	}
	return i
}

// IsCut reports whether s ends with the mark Clean puts on a name it cut:
// such a name stands for many and cannot be turned back into one.
func IsCut(s string) bool {
	rest, ok := strings.CutSuffix(s, markEnd)
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, markStart)
	if i < 0 {
		return false
	}
	digits := rest[i+len(markStart):]
	if digits == "" {
		return false
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return false
		}
	}
	return true
}

// Unescape turns the escapes Clean writes back into bytes: each \xHH of
// lowercase or uppercase hex from 80 to ff (the bytes that are never
// valid UTF-8 on their own, the only ones Clean escapes) becomes that
// byte. Everything else is left as it is. Since Clean is not injective, a
// name whose text holds such an escape reads as the byte.
func Unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil && v >= 0x80 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
