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

// Duration is a time.Duration of the schema that may be unknown, such as
// the latency of a node that does not answer. The code reads the embedded
// time.Duration; JSON writes it as fractional milliseconds (the schema's
// *_ms fields), or null when it is not Valid. The zero value is unknown.
type Duration struct {
	time.Duration
	Valid bool
}

// Known is the Duration d.
func Known(d time.Duration) Duration { return Duration{Duration: d, Valid: true} }

// MarshalJSON writes the duration in milliseconds, or null.
func (d Duration) MarshalJSON() ([]byte, error) {
	if !d.Valid {
		return []byte("null"), nil
	}
	return Float(float64(d.Duration) / float64(time.Millisecond)).MarshalJSON()
}

// UnmarshalJSON reads milliseconds, and null as unknown.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var f Float
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	*d = Duration{}
	if f.Valid() {
		*d = Known(time.Duration(float64(f) * float64(time.Millisecond)))
	}
	return nil
}

// Milliseconds is a time.Duration that JSON writes as a whole number of
// milliseconds, as windows and TTLs are given in Redis and by the nodes. A
// negative one (no TTL) is written -1.
type Milliseconds time.Duration

// MarshalJSON writes whole milliseconds.
func (m Milliseconds) MarshalJSON() ([]byte, error) {
	if m < 0 {
		return []byte("-1"), nil
	}
	return strconv.AppendInt(nil, time.Duration(m).Milliseconds(), 10), nil
}

// UnmarshalJSON reads whole milliseconds.
func (m *Milliseconds) UnmarshalJSON(b []byte) error {
	ms, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return err
	}
	*m = Milliseconds(time.Duration(ms) * time.Millisecond)
	return nil
}

// Seconds is the duration in seconds, the unit of the exported metrics.
func (m Milliseconds) Seconds() float64 { return time.Duration(m).Seconds() }
