package health

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings are the invariants to judge, in order, each with its setting.
// The zero value judges nothing.
type Settings struct {
	invariants []Invariant
	values     []Setting
}

// Defaults are invs each with its declared defaults.
func Defaults(invs []Invariant) Settings {
	s, errs := Parse(invs, func(string) string { return "" })
	errs = append(errs, s.Validate()...)
	if len(errs) > 0 {
		// The declarations are code; TestBuiltinDeclarations proves theirs.
		panic(fmt.Sprintf("health: invalid declarations: %v", errs))
	}
	return s
}

// Names are the invariants' names, in order.
func (s Settings) Names() []string {
	out := make([]string, len(s.invariants))
	for i, inv := range s.invariants {
		out[i] = inv.Name
	}
	return out
}

// Invariants are the declarations, in order; the slice is a copy.
func (s Settings) Invariants() []Invariant { return slices.Clone(s.invariants) }

// Of is the setting of the named invariant, zero when there is none.
func (s Settings) Of(name string) Setting {
	if i := s.index(name); i >= 0 {
		return s.values[i]
	}
	return Setting{}
}

// WithGrace is s with the named invariant's grace period set to d.
func (s Settings) WithGrace(name string, d time.Duration) Settings {
	return s.with(name, func(v *Setting) { v.Grace = d })
}

// WithThreshold is s with the named invariant's threshold set to t, which
// is of its declared kind.
func (s Settings) WithThreshold(name string, t any) Settings {
	return s.with(name, func(v *Setting) { v.Threshold = t })
}

func (s Settings) with(name string, set func(*Setting)) Settings {
	if i := s.index(name); i >= 0 {
		s.values = slices.Clone(s.values)
		set(&s.values[i])
	}
	return s
}

// WithoutGrace is s with every grace period zero: a one-shot check
// reports what holds when it looks.
func (s Settings) WithoutGrace() Settings {
	s.values = slices.Clone(s.values)
	for i := range s.values {
		s.values[i].Grace = 0
	}
	return s
}

// Equal reports whether s and o judge the same invariants with the same
// settings (go-cmp uses it).
func (s Settings) Equal(o Settings) bool {
	return slices.Equal(s.Names(), o.Names()) && slices.Equal(s.values, o.values)
}

func (s Settings) index(name string) int {
	return slices.IndexFunc(s.invariants, func(inv Invariant) bool { return inv.Name == name })
}

// Var is one variable an invariant is configured by, named without the
// OBSERVERD_ prefix.
type Var struct {
	Name    string
	Default string
	Help    string
}

// Vars lists the variables of invs: for each, its threshold and then its
// grace period.
func Vars(invs []Invariant) []Var {
	var out []Var
	for _, inv := range invs {
		stem := strings.ToUpper(inv.Name)
		if t := inv.Threshold; t != nil {
			def, _ := formatValue(t.Default)
			out = append(out, Var{Name: stem + "_THRESHOLD", Default: def, Help: inv.Name + ": " + t.Help})
		}
		help := inv.GraceHelp
		if help == "" {
			help = "grace period"
		}
		grace, _ := formatValue(inv.Grace)
		out = append(out, Var{Name: stem + "_GRACE", Default: grace, Help: inv.Name + ": " + help})
	}
	return out
}

// VarError is a variable that does not parse, or holds a value out of its
// bounds. Name is without the OBSERVERD_ prefix, empty for a fault of the
// declarations themselves.
type VarError struct {
	Name     string
	Unparsed bool
	Msg      string
}

func (e VarError) Error() string { return e.Name + ": " + e.Msg }

// Parse reads the variables of invs through get, which returns "" for an
// unset variable (the default is taken then). It reports the variables
// that do not parse, each keeping its default; Settings.Validate judges
// the values.
func Parse(invs []Invariant, get func(name string) string) (Settings, []VarError) {
	if err := validate(invs); err != nil {
		return Settings{}, []VarError{{Msg: err.Error()}}
	}
	s := Settings{invariants: slices.Clone(invs), values: make([]Setting, len(invs))}
	var errs []VarError
	for i, inv := range invs {
		stem := strings.ToUpper(inv.Name)
		s.values[i].Grace = inv.Grace
		if raw := get(stem + "_GRACE"); raw != "" {
			d, err := time.ParseDuration(raw)
			if err != nil {
				errs = append(errs, VarError{Name: stem + "_GRACE", Unparsed: true, Msg: "unable to parse duration: " + err.Error()})
			} else {
				s.values[i].Grace = d
			}
		}
		if t := inv.Threshold; t != nil {
			v, err := t.parse(get(stem + "_THRESHOLD"))
			if err != nil {
				errs = append(errs, VarError{Name: stem + "_THRESHOLD", Unparsed: true, Msg: err.Error()})
			}
			s.values[i].Threshold = v
		}
	}
	return s, errs
}

// Validate reports every value out of its bounds, in order: each
// invariant's threshold, then its grace period.
func (s Settings) Validate() []VarError {
	var errs []VarError
	for i, inv := range s.invariants {
		stem := strings.ToUpper(inv.Name)
		v := s.values[i]
		if t := inv.Threshold; t != nil {
			if msg := t.outOfBounds(v.Threshold); msg != "" {
				errs = append(errs, VarError{Name: stem + "_THRESHOLD", Msg: msg})
			}
		}
		if v.Grace < 0 {
			errs = append(errs, VarError{Name: stem + "_GRACE", Msg: "must not be negative, got " + v.Grace.String()})
		}
	}
	return errs
}

// parse reads raw as a value of t's kind; t's default when raw is empty
// or does not parse.
func (t *Threshold) parse(raw string) (any, error) {
	if raw == "" {
		return t.Default, nil
	}
	var v any
	var err error
	switch t.Default.(type) {
	case time.Duration:
		v, err = time.ParseDuration(raw)
		if err != nil {
			err = fmt.Errorf("unable to parse duration: %w", err)
		}
	case int64:
		v, err = strconv.ParseInt(raw, 10, 64)
	default:
		v, err = strconv.ParseFloat(raw, 64)
	}
	if err != nil {
		return t.Default, err
	}
	return v, nil
}

// outOfBounds says why v is not allowed, or "".
func (t *Threshold) outOfBounds(v any) string {
	if reflect.TypeOf(v) != reflect.TypeOf(t.Default) {
		return fmt.Sprintf("must be a %T, got %T", t.Default, v)
	}
	f, lo, hi := float(v), 0.0, float(t.Max)
	text, _ := formatValue(v)
	switch {
	case f != f: // NaN
		return "must be a number, got " + text
	case t.Max != nil && (f > hi || f < lo || t.Positive && f == lo):
		max, _ := formatValue(t.Max)
		if t.Positive {
			return fmt.Sprintf("must be above 0 and at most %s, got %s", max, text)
		}
		return fmt.Sprintf("must be between 0 and %s, got %s", max, text)
	case t.Positive && f <= lo:
		return "must be positive, got " + text
	case f < lo:
		return "must not be negative, got " + text
	}
	return ""
}

// float is v as a float64 for comparing bounds.
func float(v any) float64 {
	switch x := v.(type) {
	case time.Duration:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// formatValue writes v as its variable takes it; whole seconds as such
// ("60s", not "1m0s").
func formatValue(v any) (string, error) {
	switch x := v.(type) {
	case time.Duration:
		if x%time.Second == 0 {
			return strconv.FormatInt(int64(x/time.Second), 10) + "s", nil
		}
		return x.String(), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", errors.New("a threshold is a time.Duration, an int64 or a float64")
}
