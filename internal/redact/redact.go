// Package redact hides credentials in what observerd says about its
// peers: URLs, error texts and the errors of failed HTTP requests.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Marker stands in for every hidden secret. It is what net/url's
// URL.Redacted writes, so that every URL observerd shows reads alike.
const Marker = "xxxxx"

// URL returns raw with any password replaced by Marker. A URL that does
// not parse, or has no "//" before its user information, loses
// everything between "://" (or the start) and the last "@", where a
// password would be.
func URL(raw string) string {
	u, err := url.Parse(raw)
	// Without "//" the user information parses as part of an opaque
	// URL, "user:password@host", which URL.Redacted leaves as it is.
	if err == nil && !strings.Contains(u.Opaque, "@") {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Marker)
			return u.String()
		}
		return raw
	}
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return raw[:start] + Marker + raw[at:]
}

// Secrets returns s with every non-empty secret in it replaced by Marker,
// for text that comes from a peer, which may echo a credential back.
func Secrets(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Marker)
		}
	}
	return s
}

// URLError returns the cause of a *url.Error in err's chain, or err. A
// url.Error quotes the whole request URL, which may hold a password or a
// long query, and names what the caller's own message names already.
func URLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
