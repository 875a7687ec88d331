package httpclient

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/config"
)

func TestNewHeaderBound(t *testing.T) {
	for _, tt := range []struct {
		give int64
		want int64
	}{
		{give: 0, want: DefaultMaxHeaderBytes},
		{give: 1024, want: 1024},
	} {
		c, err := New(config.HTTPClientConfig{}, tt.give)
		if err != nil {
			t.Fatalf("New(%d): %v", tt.give, err)
		}
		if got := c.Transport.(*http.Transport).MaxResponseHeaderBytes; got != tt.want {
			t.Errorf("New(%d): header bound %d, want %d", tt.give, got, tt.want)
		}
	}
	a, _ := New(config.HTTPClientConfig{}, 0)
	b, _ := New(config.HTTPClientConfig{}, 0)
	if a.Transport == b.Transport {
		t.Error("two clients share a transport")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		give config.HTTPClientConfig
		max  int64
		want string
	}{
		{name: "negative header bound", max: -1, want: "must not be negative"},
		{name: "two kinds of auth", give: config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "u"}, BearerToken: "t"}, want: "at most one of"},
		{name: "secret reference", give: config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "u", PasswordRef: "vault"}}, want: "basic_auth password: a _ref needs a secret manager"},
		{name: "bad CA", give: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: "/absent"}}, want: "tls_config: stat /absent"},
	} {
		if _, err := New(tt.give, tt.max); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestNewAuthAndRedirects: credentials come from their files on each
// request, and redirects are followed only when the configuration says so.
func TestNewAuthAndRedirects(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		got <- r.Header.Get("Authorization")
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "token")
	cfg := config.DefaultHTTPClientConfig
	cfg.BearerTokenFile = file
	follow, err := New(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(follow.CloseIdleConnections)
	for _, token := range []string{"first", "second"} {
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		resp, err := follow.Get(srv.URL + "/moved")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if a := <-got; a != "Bearer "+token {
			t.Errorf("Authorization = %q, want Bearer %s", a, token)
		}
	}
	c, err := New(config.HTTPClientConfig{FollowRedirects: false}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	resp, err := c.Get(srv.URL + "/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("follow_redirects false: status %d, want the 302 itself", resp.StatusCode)
	}
}
