package health

import (
	"cmp"
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
	if errs = append(errs, s.Validate()...); len(errs) > 0 {
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

// Of is the setting of the named invariant, zero when there is none.
func (s Settings) Of(name string) Setting {
	if i := s.index(name); i >= 0 {
		return s.values[i]
	}
	return Setting{}
}

// WithThreshold is s with the named invariant's threshold set to t, which
// is of its declared kind.
func (s Settings) WithThreshold(name string, t any) Settings {
	if i := s.index(name); i >= 0 {
		s.values = slices.Clone(s.values)
		s.values[i].Threshold = t
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

// VarError is a variable that does not parse, or holds a value out of its
// bounds. Name is without the OBSERVERD_ prefix, empty for a fault of the
// declarations themselves.
type VarError struct {
	Name     string
	Unparsed bool
	Msg      string
}

func (e VarError) Error() string { return e.Name + ": " + e.Msg }

// variable is one of an invariant's two settings, as the variable that
// sets it: its threshold, or its grace period, a duration of 0 or more.
type variable struct {
	name  string
	help  string
	bound Threshold
	grace bool
}

// variables are inv's threshold, if it has one, then its grace period.
func variables(inv Invariant) []variable {
	stem := strings.ToUpper(inv.Name) + "_"
	grace := variable{name: stem + "GRACE", help: inv.Name + ": " + cmp.Or(inv.GraceHelp, "grace period"),
		bound: Threshold{Default: inv.Grace}, grace: true}
	if inv.Threshold == nil {
		return []variable{grace}
	}
	return []variable{{name: stem + "THRESHOLD", help: inv.Name + ": " + inv.Threshold.Help, bound: *inv.Threshold}, grace}
}

func (v variable) get(s Setting) any {
	if v.grace {
		return s.Grace
	}
	return s.Threshold
}

func (v variable) set(s *Setting, val any) {
	if d, ok := val.(time.Duration); ok && v.grace {
		s.Grace = d
	} else if !v.grace {
		s.Threshold = val
	}
}

// Vars lists the variables of invs: for each, its threshold and then its
// grace period.
func Vars(invs []Invariant) []Var {
	var out []Var
	for _, inv := range invs {
		for _, v := range variables(inv) {
			out = append(out, Var{Name: v.name, Default: formatValue(v.bound.Default), Help: v.help})
		}
	}
	return out
}

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
		for _, v := range variables(inv) {
			val, err := v.bound.parse(get(v.name))
			if err != nil {
				errs = append(errs, VarError{Name: v.name, Unparsed: true, Msg: err.Error()})
			}
			v.set(&s.values[i], val)
		}
	}
	return s, errs
}

// Validate reports every value out of its bounds, in the order of Vars.
func (s Settings) Validate() []VarError {
	var errs []VarError
	for i, inv := range s.invariants {
		for _, v := range variables(inv) {
			if msg := v.bound.outOfBounds(v.get(s.values[i])); msg != "" {
				errs = append(errs, VarError{Name: v.name, Msg: msg})
			}
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
		if v, err = time.ParseDuration(raw); err != nil {
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
	f := float(v)
	text, max := formatValue(v), formatValue(t.Max)
	switch {
	case f != f: // NaN
		return "must be a number, got " + text
	case t.Max != nil && t.Positive && (f <= 0 || f > float(t.Max)):
		return fmt.Sprintf("must be above 0 and at most %s, got %s", max, text)
	case t.Max != nil && (f < 0 || f > float(t.Max)):
		return fmt.Sprintf("must be between 0 and %s, got %s", max, text)
	case t.Positive && f <= 0:
		return "must be positive, got " + text
	case f < 0:
		return "must not be negative, got " + text
	}
	return ""
}

// float is v, a time.Duration, an int64 or a float64, as a float64.
func float(v any) float64 { return reflect.ValueOf(v).Convert(reflect.TypeFor[float64]()).Float() }

// formatValue writes v as its variable takes it, whole seconds as such
// ("60s", not "1m0s"); "" for a value of no threshold's kind.
func formatValue(v any) string {
	switch x := v.(type) {
	case time.Duration:
		if x%time.Second == 0 {
			return strconv.FormatInt(int64(x/time.Second), 10) + "s"
		}
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}
