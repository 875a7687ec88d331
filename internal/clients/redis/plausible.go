package redis

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/observerd/observerd/internal/names"

	"github.com/observerd/observerd/internal/timestamp"
)

// Bounds of what Redis may say that is published as a fact. Node ids and
// addresses become label values of /metrics, so they must be short,
// printable UTF-8: an invalid label value would fail the whole scrape.
const (
	maxIDBytes = 256
	// maxAddressBytes is a DNS name of 253 bytes in brackets, a colon and
	// a port.
	maxAddressBytes = 253 + 2 + 1 + 5
	// maxRawBytes bounds RegisteredAtRaw; isoformat() writes 32 at most.
	// It is names.MinMaxBytes, the least names.Clean cuts to.
	maxRawBytes = names.MinMaxBytes
	// maxQuoteBytes bounds the part of a bad value an error quotes.
	maxQuoteBytes = 40
	// maxRegisteredAhead is how far after Redis's clock a registration
	// time may lie: a time without an offset read in the wrong zone is off
	// by at most 26 hours (UTC-12 to UTC+14); more is no clock at all.
	maxRegisteredAhead = 26 * time.Hour
)

// ParseRegistryEntry reads the registry hash of node id, as Redis's clock
// read now. An id that is empty, longer than 256 bytes, or not printable
// UTF-8 names no node: that is an error, and the entry is left out. A bad
// address or registration time is withheld (left empty or nil) and said in
// Problems; a registered_at that is empty or "None" is the nodes' null,
// not a problem. The TTL is the caller's to fill in.
func ParseRegistryEntry(id string, fields map[string]string, loc *time.Location, now time.Time) (RegistryEntry, error) {
	if err := checkText(id, maxIDBytes); err != nil {
		return RegistryEntry{}, fmt.Errorf("node id: %w", err)
	}
	e := RegistryEntry{ID: id}
	if addr, ok := fields["address"]; !ok {
		e.Problems = append(e.Problems, "no address field")
	} else if err := checkAddress(addr); err != nil {
		e.Problems = append(e.Problems, fmt.Sprintf("address %s: %v", quoteCut(addr), err))
	} else {
		e.Address = addr
	}
	raw, ok := fields["registered_at"]
	e.RegisteredAtRaw = names.Clean(raw, maxRawBytes)
	if !ok || isNull(raw) {
		return e, nil
	}
	t, err := registeredAt(raw, loc, now)
	if err != nil {
		e.Problems = append(e.Problems, fmt.Sprintf("registered_at %s: %v", quoteCut(raw), err))
		return e, nil
	}
	e.RegisteredAt = &t
	return e, nil
}

// isNull reports how nodes write a registered_at of None.
func isNull(raw string) bool {
	s := strings.TrimSpace(raw)
	return s == "" || s == "None" || s == "null"
}

func registeredAt(raw string, loc *time.Location, now time.Time) (time.Time, error) {
	if len(raw) > maxRawBytes {
		return time.Time{}, fmt.Errorf("longer than %d bytes", maxRawBytes)
	}
	t, err := timestamp.Parse(raw, loc)
	if err != nil {
		return time.Time{}, errors.New("neither RFC 3339 nor ISO 8601")
	}
	switch {
	case t.Before(time.Unix(0, 0)):
		return time.Time{}, errors.New("before 1970")
	case !now.IsZero() && t.After(now.Add(maxRegisteredAhead)):
		return time.Time{}, fmt.Errorf("more than %s after the server's clock", maxRegisteredAhead)
	}
	return t, nil
}

// checkAddress accepts host:port with a printable host and a port from 1
// to 65535, the address a node registers and is scraped by.
func checkAddress(addr string) error {
	if err := checkText(addr, maxAddressBytes); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || strings.ContainsAny(host, " /@") {
		return errors.New("want host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return errors.New("want a port from 1 to 65535")
	}
	return nil
}

// checkText accepts a non-empty string of at most max bytes of printable
// UTF-8.
func checkText(s string, max int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > max:
		return fmt.Errorf("longer than %d bytes", max)
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return errors.New("not printable")
	}
	return nil
}

// quoteCut quotes s for an error text, at most maxQuoteBytes of it: the
// quote escapes what is not printable UTF-8, so the text stays valid.
func quoteCut(s string) string {
	if len(s) <= maxQuoteBytes {
		return strconv.Quote(s)
	}
	return strconv.Quote(names.Prefix(s, maxQuoteBytes)) + fmt.Sprintf("... (%d bytes)", len(s))
}
