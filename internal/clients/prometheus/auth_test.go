package prometheus

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/common/config"

	"github.com/observerd/observerd/internal/testenv"
)

const (
	testUser     = "observerd"
	testPassword = "pr0m-s3cret-pw"
	testToken    = "t0ken-s3cret-1"
)

// writeSecret writes a secret file as an operator would, with a newline.
func writeSecret(t *testing.T, path, secret string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startSecurePrometheus is a real Prometheus serving TLS with a certificate
// of ca and asking testUser for testPassword.
func startSecurePrometheus(t *testing.T, ca *testenv.CA) *testenv.Prometheus {
	t.Helper()
	return testenv.StartPrometheus(t, testenv.PrometheusConfig{
		Targets: []string{"127.0.0.1:1"},
		Web: &testenv.PrometheusWeb{
			TLS:   ca.Server(t, "prometheus"),
			CA:    ca,
			Users: map[string]string{testUser: testPassword},
		},
	})
}

// basicAuth is the HTTP configuration of basic auth as user, with the
// password given inline, or in a file, or both.
func basicAuth(user, password, passwordFile string) config.HTTPClientConfig {
	return config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: user, Password: config.Secret(password), PasswordFile: passwordFile}}
}

// bearer is the HTTP configuration of a bearer token given inline, or in a
// file, or both.
func bearer(token, tokenFile string) config.HTTPClientConfig {
	return config.HTTPClientConfig{Authorization: &config.Authorization{Type: "Bearer", Credentials: config.Secret(token), CredentialsFile: tokenFile}}
}

func newTestClient(t *testing.T, base string, opts Options) *Client {
	t.Helper()
	c, err := New(base, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestRealPrometheusTLSAndBasicAuth queries a real Prometheus over TLS with
// basic auth, the password read from a file that is rotated in between.
func TestRealPrometheusTLSAndBasicAuth(t *testing.T) {
	ca := testenv.NewCA(t)
	p := startSecurePrometheus(t, ca)
	pwFile := filepath.Join(t.TempDir(), "password")
	writeSecret(t, pwFile, testPassword)
	withCA := basicAuth(testUser, "", pwFile)
	withCA.TLSConfig = config.TLSConfig{CAFile: ca.CertFile}

	c := newTestClient(t, p.URL, Options{HTTP: withCA})
	res, err := c.Query(t.Context(), "vector(1)")
	if err != nil || res.Type != ResultVector || len(res.Vector) != 1 || res.Vector[0].Value != 1 {
		t.Fatalf("Query(vector(1)) over TLS with basic auth = %+v, %v", res, err)
	}

	writeSecret(t, pwFile, "wr0ng-pw")
	_, err = c.Query(t.Context(), "vector(1)")
	if !errors.Is(err, ErrUnexpectedStatus) || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("Query with a wrong password: %v, want 401 Unauthorized", err)
	}
	assertNoSecret(t, err.Error(), testPassword, "wr0ng-pw")

	writeSecret(t, pwFile, testPassword)
	if _, err := c.Query(t.Context(), "vector(1)"); err != nil {
		t.Fatalf("Query after the password file was put right: %v", err)
	}

	untrusting := newTestClient(t, p.URL, Options{HTTP: basicAuth(testUser, "", pwFile)})
	_, err = untrusting.Query(t.Context(), "vector(1)")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), c.Endpoint()) {
		t.Fatalf("Query without the CA: %v, want an x509.UnknownAuthorityError naming the endpoint", err)
	}
	assertNoSecret(t, err.Error(), testPassword)
}

// tokenChecker is a peer that accepts only the current bearer token.
type tokenChecker struct {
	want atomic.Pointer[string]
}

func (tc *tokenChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+*tc.want.Load() {
		http.Error(w, "invalid bearer token", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, okAnswer)
}

func TestBearerTokenFile(t *testing.T) {
	tc := &tokenChecker{}
	tc.want.Store(new(testToken))
	srv := httptest.NewServer(tc)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeSecret(t, tokenFile, testToken)
	c := newTestClient(t, srv.URL, Options{HTTP: bearer("", tokenFile)})

	if _, err := c.Query(t.Context(), "up"); err != nil {
		t.Fatalf("Query with the token file: %v", err)
	}
	const rotated = "t0ken-s3cret-2"
	tc.want.Store(new(rotated))
	_, err := c.Query(t.Context(), "up")
	if !errors.Is(err, ErrUnexpectedStatus) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Query with a stale token: %v, want 401", err)
	}
	assertNoSecret(t, err.Error(), testToken, rotated)
	writeSecret(t, tokenFile, rotated)
	if _, err := c.Query(t.Context(), "up"); err != nil {
		t.Fatalf("Query after the token was rotated: %v", err)
	}

	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(t.Context(), "up")
	if err == nil || !strings.Contains(err.Error(), tokenFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Query with the token file gone: %v, want an error naming the file", err)
	}
}

// TestSecretsNeverShown provokes every error the credentials can take part
// in and greps them, and the client's descriptions, for the secrets.
func TestSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	pwFile, tokenFile := filepath.Join(dir, "pw"), filepath.Join(dir, "token")
	writeSecret(t, pwFile, testPassword)
	writeSecret(t, tokenFile, testToken)
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A careless proxy echoing what it got.
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, "denied %q", r.Header.Get("Authorization"))
	}))
	t.Cleanup(refuse.Close)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(tlsSrv.Close)

	both := basicAuth(testUser, testPassword, "")
	both.BearerToken = testToken
	all := []Options{
		{HTTP: basicAuth(testUser, testPassword, "")},
		{HTTP: basicAuth(testUser, "", pwFile)},
		{HTTP: bearer(testToken, "")},
		{HTTP: bearer("", tokenFile)},
		{HTTP: basicAuth(testUser, testPassword, pwFile)},
		{HTTP: bearer(testToken, tokenFile)},
		{HTTP: both},
		{HTTP: basicAuth(testUser, testPassword, ""), MaxBodyBytes: -1},
	}
	var texts []string
	for _, opts := range all {
		texts = append(texts, fmt.Sprintf("%v %+v %#v %s", opts, opts, opts, opts))
		for _, base := range []string{refuse.URL, tlsSrv.URL, "http://" + testUser + ":" + testPassword + "@127.0.0.1:1"} {
			c, err := New(base, opts)
			if err != nil {
				texts = append(texts, err.Error())
				continue
			}
			texts = append(texts, fmt.Sprintf("%v %+v %#v %s", c, c, c, c))
			_, err = c.Query(t.Context(), "up")
			c.CloseIdleConnections()
			if err == nil {
				t.Fatalf("Query of %s with %v succeeded", base, opts)
			}
			texts = append(texts, err.Error())
		}
	}
	for _, text := range texts {
		assertNoSecret(t, text, testPassword, testToken)
	}
}

// assertNoSecret fails when text holds a secret, plain or as basic auth.
func assertNoSecret(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		basic := base64Basic(testUser, s)
		if strings.Contains(text, s) || strings.Contains(text, basic) {
			t.Errorf("%q holds the secret %q", text, s)
		}
	}
}
