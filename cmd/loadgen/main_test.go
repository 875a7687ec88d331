package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter/ratelimitertest"
	"github.com/observerd/observerd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startNode runs one reference node on a fresh redis-server.
func startNode(t *testing.T) string {
	t.Helper()
	r := testenv.StartRedis(t)
	cfg, err := ratelimiter.ParseConfig([]string{"RATELIMITER_REDIS_URL=" + r.URL, "RATELIMITER_NODE_PORT=0"})
	if err != nil {
		t.Fatal(err)
	}
	_, url := ratelimitertest.Start(t, cfg, nil)
	return url
}

func TestRunPrintsTotals(t *testing.T) {
	url := startNode(t)
	var out, errOut bytes.Buffer
	args := []string{
		"-targets", url + "," + url,
		"-rate", "1000", "-count", "12",
		"-keys", "1", "-limit", "5", "-window-ms", "60000", "-key-prefix", "cmd-",
	}
	if err := run(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v (%s)", err, errOut.String())
	}
	if got, want := out.String(), "loadgen: sent=12 allowed=5 blocked=7 failed=0\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if !regexp.MustCompile(`target=` + regexp.QuoteMeta(url) + ` sent=12 `).MatchString(errOut.String()) {
		t.Errorf("stderr lacks the per-target line:\n%s", errOut.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		give []string
		want string
	}{
		{name: "unknown flag", give: []string{"-nope"}, want: "not defined"},
		{name: "bad target", give: []string{"-targets", "localhost:8000"}, want: "not an http(s) base URL"},
		{name: "nothing to send", give: []string{"-rate", "0"}, want: "nothing to send"},
		{name: "stray argument", give: []string{"extra"}, want: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), tt.give, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, &out, &errOut); err != nil {
		t.Fatalf("run -h: %v", err)
	}
	for _, f := range []string{"-targets", "-rate", "-duration", "-count", "-burst-every", "-burst-size", "-hot-share", "-hot-keys", "-keys", "-fresh-keys", "-limit", "-window-ms", "-key-prefix"} {
		if !strings.Contains(errOut.String(), f+" ") && !strings.Contains(errOut.String(), f+"\n") {
			t.Errorf("help lacks %s", f)
		}
	}
}
