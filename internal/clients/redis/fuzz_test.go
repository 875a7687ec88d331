package redis

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// maxErrorText bounds the text of a parse error, however long the value:
// the quote of a bad value is cut at maxQuoteBytes.
const maxErrorText = 512

func checkErrorText(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); len(msg) > maxErrorText || !utf8.ValidString(msg) {
		t.Fatalf("error text of %d bytes, valid UTF-8 %v: %.200q", len(msg), utf8.ValidString(msg), msg)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add(infoText)
	f.Add(strings.ReplaceAll(infoText, "\n", "\r\n"))
	f.Fuzz(func(t *testing.T, text string) {
		info, err := ParseInfo(text)
		checkErrorText(t, err)
		if err != nil {
			if info != (Info{}) {
				t.Fatalf("ParseInfo = %+v with error %v", info, err)
			}
			return
		}
		for _, s := range []string{info.Version, info.Role} {
			if len(s) > maxInfoText || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("ParseInfo published %q", s)
			}
		}
		if info.UsedMemory < 0 || info.ConnectedClients < 0 || info.DBKeys < 0 || info.Servers != 0 {
			t.Fatalf("ParseInfo = %+v", info)
		}
	})
}

func FuzzParseOverride(f *testing.F) {
	f.Add("user:1", "5", true, "1000", true)
	f.Add("k", "0", true, "", true)
	f.Fuzz(func(t *testing.T, key, limit string, hasLimit bool, window string, hasWindow bool) {
		fields := map[string]string{}
		if hasLimit {
			fields["limit"] = limit
		}
		if hasWindow {
			fields["window_ms"] = window
		}
		o, err := ParseOverride(key, fields)
		checkErrorText(t, err)
		if err != nil {
			return
		}
		switch {
		case o.Key != key:
			t.Fatalf("Key = %q, want %q", o.Key, key)
		case o.Limit < 0 || o.Limit > maxLimit:
			t.Fatalf("Limit = %d from %q", o.Limit, limit)
		case o.Window < 0 || (o.Window == 0 && hasWindow && window != ""):
			t.Fatalf("Window = %v from %q", o.Window, window)
		case o.Window%time.Millisecond != 0:
			t.Fatalf("Window = %v is not whole milliseconds", o.Window)
		}
	})
}

// fuzzNow is the server's clock of the registry fuzz targets.
var fuzzNow = time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)

func FuzzParseRegistryEntry(f *testing.F) {
	f.Add("node-1", "10.0.0.1:8000", true, "2026-01-27T01:48:37.123456", true)
	f.Fuzz(func(t *testing.T, id, addr string, hasAddr bool, at string, hasAt bool) {
		fields := map[string]string{}
		if hasAddr {
			fields["address"] = addr
		}
		if hasAt {
			fields["registered_at"] = at
		}
		e, err := ParseRegistryEntry(id, fields, time.UTC, fuzzNow)
		checkErrorText(t, err)
		if err != nil {
			return
		}
		if e.ID != id || checkText(e.ID, maxIDBytes) != nil {
			t.Fatalf("ID = %q from %q", e.ID, id)
		}
		if e.Address != "" && (e.Address != addr || checkAddress(e.Address) != nil) {
			t.Fatalf("Address = %q from %q", e.Address, addr)
		}
		if len(e.RegisteredAtRaw) > maxRawBytes || !utf8.ValidString(e.RegisteredAtRaw) {
			t.Fatalf("RegisteredAtRaw = %q", e.RegisteredAtRaw)
		}
		checkRegisteredAt(t, e.RegisteredAt, fuzzNow)
		if len(e.Problems) > 2 {
			t.Fatalf("Problems = %q", e.Problems)
		}
		for _, p := range e.Problems {
			if len(p) > maxErrorText || !utf8.ValidString(p) {
				t.Fatalf("problem of %d bytes: %.200q", len(p), p)
			}
		}
	})
}

func FuzzRegisteredAt(f *testing.F) {
	f.Add("2026-01-27T01:48:37.123456", 3600)
	f.Fuzz(func(t *testing.T, raw string, offsetSeconds int) {
		// Real zones lie within a day of UTC.
		loc := time.FixedZone("node", offsetSeconds%(24*3600))
		e, err := ParseRegistryEntry("node-1", map[string]string{"address": "h:1", "registered_at": raw}, loc, fuzzNow)
		if err != nil {
			t.Fatalf("ParseRegistryEntry: %v", err)
		}
		checkRegisteredAt(t, e.RegisteredAt, fuzzNow)
		if e.RegisteredAt == nil && !isNull(raw) && len(e.Problems) != 1 {
			t.Fatalf("registered_at %q withheld without a problem: %q", raw, e.Problems)
		}
		if e.RegisteredAt != nil && len(e.Problems) != 0 {
			t.Fatalf("registered_at %q read with problems %q", raw, e.Problems)
		}
	})
}

func checkRegisteredAt(t *testing.T, at *time.Time, now time.Time) {
	t.Helper()
	if at == nil {
		return
	}
	if at.Location() != time.UTC || at.Before(time.Unix(0, 0)) || at.After(now.Add(maxRegisteredAhead)) {
		t.Fatalf("RegisteredAt = %v", at)
	}
}
