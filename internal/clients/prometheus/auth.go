package prometheus

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/observerd/observerd/internal/redact"
)

// maxSecretFileBytes bounds a password or token file: a secret is a line,
// and a path mistaken for another file must not be read whole.
const maxSecretFileBytes = 64 << 10

// auth is how a query authenticates: basic auth or a bearer token, each
// given inline or as a file read for every query (so that a rotated secret
// is picked up without a restart; a query every few seconds makes the read
// cheap). The zero value sends no credentials.
type auth struct {
	username     string
	password     string
	passwordFile string
	token        string
	tokenFile    string
}

// newAuth checks that opts and the base URL's user info name one way to
// authenticate at most. u is the base URL, its user info still in place.
func newAuth(opts Options, u *url.URL) (auth, error) {
	a := auth{
		username:     opts.Username,
		password:     opts.Password,
		passwordFile: opts.PasswordFile,
		token:        opts.BearerToken,
		tokenFile:    opts.BearerTokenFile,
	}
	if u.User != nil && !a.basic() {
		a.username = u.User.Username()
		a.password, _ = u.User.Password()
	}
	switch {
	case a.password != "" && a.passwordFile != "":
		return auth{}, errors.New("password and password file are exclusive")
	case a.token != "" && a.tokenFile != "":
		return auth{}, errors.New("bearer token and bearer token file are exclusive")
	case a.bearer() && a.basic():
		return auth{}, errors.New("basic auth and bearer token are exclusive")
	}
	return a, nil
}

func (a auth) basic() bool  { return a.username != "" || a.password != "" || a.passwordFile != "" }
func (a auth) bearer() bool { return a.token != "" || a.tokenFile != "" }

// header returns the Authorization header of one query ("" for none) and
// the secrets it holds, to be scrubbed from what the peer answers.
func (a auth) header() (string, []string, error) {
	switch {
	case a.bearer():
		token := a.token
		if a.tokenFile != "" {
			var err error
			if token, err = readSecret("bearer token file", a.tokenFile); err != nil {
				return "", nil, err
			}
			if token == "" {
				return "", nil, fmt.Errorf("bearer token file %s is empty", a.tokenFile)
			}
		}
		return "Bearer " + token, []string{token}, nil
	case a.basic():
		password := a.password
		if a.passwordFile != "" {
			var err error
			if password, err = readSecret("password file", a.passwordFile); err != nil {
				return "", nil, err
			}
		}
		basic := base64.StdEncoding.EncodeToString([]byte(a.username + ":" + password))
		return "Basic " + basic, []string{password, basic}, nil
	}
	return "", nil, nil
}

// readSecret reads a secret file, without the white space around it (the
// newline an editor or `echo` leaves). Errors name the file, never its
// content.
func readSecret(what, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(b) > maxSecretFileBytes {
		return "", fmt.Errorf("read %s %s: longer than %d bytes", what, path, maxSecretFileBytes)
	}
	return strings.TrimSpace(string(b)), nil
}

// scrubber removes secrets from text that comes from the peer, in case
// Prometheus or a proxy in front of it echoes them back.
func scrubber(secrets []string) func(string) string {
	return func(s string) string { return redact.Secrets(s, secrets...) }
}

// String describes a without its secrets.
func (a auth) String() string {
	switch {
	case a.tokenFile != "":
		return "bearer token from " + a.tokenFile
	case a.token != "":
		return "bearer token"
	case a.passwordFile != "":
		return "basic auth as " + a.username + ", password from " + a.passwordFile
	case a.basic():
		return "basic auth as " + a.username
	}
	return "no auth"
}

// String describes o with its secrets hidden, so that options printed
// with %v or %+v (in a log line, a test failure) show no credential.
func (o Options) String() string {
	return fmt.Sprintf("{Username:%s Password:%s PasswordFile:%s BearerToken:%s BearerTokenFile:%s TLSConfig:%t MaxBodyBytes:%d MaxHeaderBytes:%d Timeout:%s HTTPClient:%t}",
		o.Username, hidden(o.Password), o.PasswordFile, hidden(o.BearerToken), o.BearerTokenFile,
		o.TLSConfig != nil, o.MaxBodyBytes, o.MaxHeaderBytes, o.Timeout, o.HTTPClient != nil)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// hidden is redact.Marker for a set secret, else empty.
func hidden(secret string) string {
	if secret == "" {
		return ""
	}
	return redact.Marker
}
