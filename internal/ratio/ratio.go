// Package ratio holds a share of a limit, such as OBSERVERD_NEAR_LIMIT_RATIO,
// exactly: parsed from its decimal text into a fraction and compared with a
// key's count over its limit in integers, so that 8 of 10 is at 0.8 and never
// a rounding error below it.
package ratio

import (
	"cmp"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// Ratio is the fraction Num/Den, in lowest terms. The zero Ratio is not
// valid (see Parse).
type Ratio struct {
	Num, Den int64
}

// maxText bounds the text Parse reads: a share needs few digits.
const maxText = 40

// Parse reads s, a decimal such as "0.8" (or a fraction such as "4/5"), as
// an exact share above 0 and at most 1. Exponents and other bases are
// refused: a share is written plainly.
func Parse(s string) (Ratio, error) {
	if len(s) > maxText || strings.Trim(s, "0123456789./") != "" {
		return Ratio{}, fmt.Errorf("%q is not a decimal share such as 0.8", s)
	}
	r, ok := new(big.Rat).SetString(s)
	switch {
	case !ok:
		return Ratio{}, fmt.Errorf("%q is not a number", s)
	case r.Sign() <= 0 || r.Cmp(big.NewRat(1, 1)) > 0:
		return Ratio{}, fmt.Errorf("must be above 0 and at most 1, got %s", s)
	case !r.Denom().IsInt64():
		// Num <= Den, so Num fits when Den does.
		return Ratio{}, fmt.Errorf("%q has more digits than a share needs", s)
	}
	return Ratio{Num: r.Num().Int64(), Den: r.Denom().Int64()}, nil
}

// MustParse is Parse for constants; it panics on a bad one.
func MustParse(s string) Ratio {
	r, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("ratio: %v", err))
	}
	return r
}

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (r *Ratio) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// MarshalText implements encoding.TextMarshaler: "Num/Den", which Parse
// reads back exactly.
func (r Ratio) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// String is "Num/Den".
func (r Ratio) String() string {
	return strconv.FormatInt(r.Num, 10) + "/" + strconv.FormatInt(r.Den, 10)
}

// Valid reports whether r is a share above 0 and at most 1, as Parse
// returns.
func (r Ratio) Valid() bool { return r.Num > 0 && r.Den > 0 && r.Num <= r.Den }

// Float is r as a float64, for people and for /snapshot; never for a
// decision.
func (r Ratio) Float() float64 { return float64(r.Num) / float64(r.Den) }

// Reached reports whether count is at or above r of limit:
// count*Den >= Num*limit, exactly, in 128 bits. A limit of 0 or less is
// reached by any count: such a key refuses every request.
func (r Ratio) Reached(count, limit int64) bool {
	if limit <= 0 {
		return true
	}
	if count < 0 {
		return false
	}
	return mulCompare(count, r.Den, r.Num, limit) >= 0
}

// CompareShares orders count/limit shares, highest first: it is negative
// when a's share is above b's. A limit of 0 or less is an infinite share,
// above every finite one; two infinite shares tie.
func CompareShares(aCount, aLimit, bCount, bLimit int64) int {
	if aInf, bInf := aLimit <= 0, bLimit <= 0; aInf || bInf {
		return cmp.Compare(b2i(bInf), b2i(aInf))
	}
	// a/al > b/bl  <=>  a*bl > b*al, limits positive.
	return -mulCompare(max(aCount, 0), bLimit, max(bCount, 0), aLimit)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mulCompare compares a*b with c*d, all four non-negative, without
// overflow.
func mulCompare(a, b, c, d int64) int {
	hi1, lo1 := bits.Mul64(uint64(a), uint64(b))
	hi2, lo2 := bits.Mul64(uint64(c), uint64(d))
	return cmp.Or(cmp.Compare(hi1, hi2), cmp.Compare(lo1, lo2))
}
