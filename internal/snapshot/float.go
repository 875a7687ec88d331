package snapshot

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// Float is a float64 whose JSON form is null when the value is NaN or ±Inf.
// Sources answer NaN for a histogram without observations and may answer
// ±Inf; neither may break the document, so both are written as null, and a
// value that is not known at all is stored as NaN (see Null).
type Float float64

// Null is the Float that stands for "no value".
func Null() Float { return Float(math.NaN()) }

// Valid reports whether f holds a finite value.
func (f Float) Valid() bool {
	v := float64(f)
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

// MarshalJSON writes null for NaN and ±Inf, else the shortest decimal form.
func (f Float) MarshalJSON() ([]byte, error) {
	if !f.Valid() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*f = Null()
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Millis converts a duration to fractional milliseconds, the unit of every
// *_ms field of the schema.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
