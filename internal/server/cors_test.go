package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corsAnswer is what a browser reads of an answer to decide on CORS.
type corsAnswer struct {
	Status        int
	AllowOrigin   string
	ExposeHeaders string
	Vary          string
}

// TestCORSOnReads: only an allowed Origin gets CORS headers, each allowed
// origin its own, on /snapshot and /events alike.
func TestCORSOnReads(t *testing.T) {
	s := publishedStore(t)
	two := newTestHandler(t, s, func(c *Config) { c.CORSOrigins = []string{"https://a.example", "https://b.example:8443/"} })
	star := newTestHandler(t, s, func(c *Config) { c.CORSOrigins = []string{"*"} })
	none := newTestHandler(t, s, func(c *Config) { c.CORSOrigins = nil })
	const vary = "Accept-Encoding, Origin"
	tests := []struct {
		name   string
		h      http.Handler
		origin string
		want   corsAnswer
	}{
		{name: "first origin", h: two, origin: "https://a.example", want: corsAnswer{Status: 200, AllowOrigin: "https://a.example", ExposeHeaders: "ETag", Vary: vary}},
		{name: "second origin, configured with a slash", h: two, origin: "https://b.example:8443", want: corsAnswer{Status: 200, AllowOrigin: "https://b.example:8443", ExposeHeaders: "ETag", Vary: vary}},
		{name: "other origin", h: two, origin: "https://evil.example", want: corsAnswer{Status: 200, Vary: vary}},
		{name: "no Origin", h: two, want: corsAnswer{Status: 200, Vary: vary}},
		{name: "any origin", h: star, origin: "https://evil.example", want: corsAnswer{Status: 200, AllowOrigin: "*", ExposeHeaders: "ETag", Vary: vary}},
		{name: "any origin, no Origin", h: star, want: corsAnswer{Status: 200, Vary: vary}},
		{name: "no CORS configured", h: none, origin: "https://a.example", want: corsAnswer{Status: 200, Vary: "Accept-Encoding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{}
			if tt.origin != "" {
				header["Origin"] = tt.origin
			}
			for _, target := range []string{"/snapshot", "/snapshot?sections=nodes", "/snapshot?after=0"} {
				resp := serve(tt.h, http.MethodGet, target, header).Result()
				got := corsAnswer{
					Status:        resp.StatusCode,
					AllowOrigin:   resp.Header.Get("Access-Control-Allow-Origin"),
					ExposeHeaders: resp.Header.Get("Access-Control-Expose-Headers"),
					Vary:          strings.Join(resp.Header.Values("Vary"), ", "),
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", target, diff)
				}
			}
		})
	}
}

// preflightAnswer is an answer to OPTIONS.
type preflightAnswer struct {
	Status       int
	AllowOrigin  string
	AllowMethods string
	AllowHeaders string
	MaxAge       string
}

func TestCORSPreflight(t *testing.T) {
	h := newTestHandler(t, publishedStore(t), func(c *Config) { c.CORSOrigins = []string{"https://a.example"} })
	allowed := preflightAnswer{Status: http.StatusNoContent, AllowOrigin: "https://a.example", AllowMethods: "GET, HEAD", AllowHeaders: "If-None-Match, Last-Event-ID, Cache-Control", MaxAge: "3600"}
	refused := preflightAnswer{Status: http.StatusNoContent}
	tests := []struct {
		name   string
		origin string
		method string
		want   preflightAnswer
	}{
		{name: "allowed GET", origin: "https://a.example", method: "GET", want: allowed},
		{name: "allowed HEAD", origin: "https://a.example", method: "HEAD", want: allowed},
		{name: "allowed origin, POST", origin: "https://a.example", method: "POST", want: refused},
		{name: "other origin", origin: "https://evil.example", method: "GET", want: refused},
		{name: "no Origin", method: "GET", want: refused},
		{name: "not a preflight", origin: "https://a.example", want: refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{}
			if tt.origin != "" {
				header["Origin"] = tt.origin
			}
			if tt.method != "" {
				header["Access-Control-Request-Method"] = tt.method
				header["Access-Control-Request-Headers"] = "if-none-match"
			}
			for _, path := range []string{"/snapshot", "/events"} {
				resp := serve(h, http.MethodOptions, path, header).Result()
				got := preflightAnswer{
					Status:       resp.StatusCode,
					AllowOrigin:  resp.Header.Get("Access-Control-Allow-Origin"),
					AllowMethods: resp.Header.Get("Access-Control-Allow-Methods"),
					AllowHeaders: resp.Header.Get("Access-Control-Allow-Headers"),
					MaxAge:       resp.Header.Get("Access-Control-Max-Age"),
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("OPTIONS %s (-want +got):\n%s", path, diff)
				}
				if allow := resp.Header.Get("Allow"); allow != "GET, HEAD, OPTIONS" {
					t.Errorf("OPTIONS %s: Allow = %q, want GET, HEAD, OPTIONS", path, allow)
				}
			}
		})
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "https://a.example", want: "https://a.example"},
		{give: "https://a.example/", want: "https://a.example"},
		{give: "HTTPS://A.Example", want: "https://a.example"},
		{give: "https://a.example:443", want: "https://a.example"},
		{give: "http://a.example:80", want: "http://a.example"},
		{give: "http://a.example:8080", want: "http://a.example:8080"},
		{give: "https://[::1]:443", want: "https://[::1]"},
	}
	for _, tt := range tests {
		if got := normalizeOrigin(tt.give); got != tt.want {
			t.Errorf("normalizeOrigin(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
