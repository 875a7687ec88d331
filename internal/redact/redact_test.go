package redact

import (
	"errors"
	"net/url"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "redis://localhost:6379", want: "redis://localhost:6379"},
		{give: "redis://:s3cret@localhost:6379/0", want: "redis://:xxxxx@localhost:6379/0"},
		{give: "rediss://admin:s3cret@redis.example:6380", want: "rediss://admin:xxxxx@redis.example:6380"},
		{give: "redis://admin@localhost:6379", want: "redis://admin@localhost:6379"},
		{give: "redis://:p%40ss@host:1", want: "redis://:xxxxx@host:1"},
		{give: "redis://:bad%zzpass@host:1", want: "redis://xxxxx@host:1"},
		{give: "http://u:S3cret%zz@h:1", want: "http://xxxxx@h:1"},
		{give: "http://u:S3cret@h:1/%zz", want: "http://xxxxx@h:1/%zz"},
		// No "//": the user information parses as an opaque part.
		{give: "u:S3cret@h:1", want: "xxxxx@h:1"},
		{give: "mailto:sre@example.com", want: "xxxxx@example.com"},
		{give: "::not a url", want: "::not a url"},
		{give: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := URL(tt.give); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestMarkerIsNetURLs(t *testing.T) {
	u, err := url.Parse("http://u:p@h")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Redacted(), "http://u:"+Marker+"@h"; got != want {
		t.Errorf("url.Redacted() = %q, want %q: one marker for every URL", got, want)
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		give    string
		secrets []string
		want    string
	}{
		{give: "auth failed for pw1 and tok2", secrets: []string{"pw1", "", "tok2"}, want: "auth failed for xxxxx and xxxxx"},
		{give: "nothing here", secrets: []string{""}, want: "nothing here"},
	}
	for _, tt := range tests {
		if got := Secrets(tt.give, tt.secrets...); got != tt.want {
			t.Errorf("Secrets(%q, %q) = %q, want %q", tt.give, tt.secrets, got, tt.want)
		}
	}
}

func TestURLError(t *testing.T) {
	cause := errors.New("connection refused")
	wrapped := &url.Error{Op: "Get", URL: "http://u:secret@h/x", Err: cause}
	if got := URLError(wrapped); got != cause {
		t.Errorf("URLError(url.Error) = %v, want its cause", got)
	}
	if got := URLError(cause); got != cause {
		t.Errorf("URLError(plain) = %v, want it unchanged", got)
	}
}
