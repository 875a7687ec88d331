package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// throwaway is an invariant declared by this test alone: it holds for the
// subject "everything" whenever Redis is fresh.
func throwaway() health.Invariant {
	return health.Invariant{
		Name:     "throwaway",
		Severity: health.SeverityCritical,
		Sources:  []string{source.Redis},
		Subject:  "everything",
		Help:     "always, for this test",
		Threshold: &health.Threshold{
			Default:  int64(3),
			Positive: true,
			Help:     "how many things are thrown away",
		},
		Alert: health.Alert{For: time.Minute, Description: "thrown away"},
		Check: func(v *health.View, s health.Setting) health.Verdict {
			return health.Verdict{Findings: []health.Finding{{
				Subject: "everything",
				Message: fmt.Sprintf("%d things thrown away", s.Count()),
			}}}
		},
	}
}

// TestInvariantIsOneDeclaration registers an invariant that observerd does
// not have and finds it wherever an invariant shows: -h, the validation of
// its variables, /metrics and observerd check.
func TestInvariantIsOneDeclaration(t *testing.T) {
	opts := options{invariants: append(health.Builtin(), throwaway())}
	runOnce := func(args, environ []string) (string, error) {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := runWith(ctx, args, environ, &out, &out, opts)
		return out.String(), err
	}

	t.Run("-h", func(t *testing.T) {
		for _, args := range [][]string{{"observerd", "-h"}, {"observerd", "check", "-h"}} {
			out, err := runOnce(args, nil)
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`\nOBSERVERD_THROWAWAY_THRESHOLD +3 +throwaway: how many things are thrown away\n`),
				regexp.MustCompile(`\nOBSERVERD_THROWAWAY_GRACE +0s +throwaway: grace period\n`),
			} {
				if !want.MatchString(out) {
					t.Errorf("%q lacks a line matching %s", args, want)
				}
			}
		}
	})

	t.Run("validation", func(t *testing.T) {
		tests := []struct{ give, want string }{
			{give: "OBSERVERD_THROWAWAY_THRESHOLD=0", want: "OBSERVERD_THROWAWAY_THRESHOLD: must be positive, got 0"},
			{give: "OBSERVERD_THROWAWAY_THRESHOLD=lots", want: `OBSERVERD_THROWAWAY_THRESHOLD: strconv.ParseInt: parsing "lots"`},
			{give: "OBSERVERD_THROWAWAY_GRACE=-1s", want: "OBSERVERD_THROWAWAY_GRACE: must not be negative, got -1s"},
			{give: "OBSERVERD_THROWAWAY_TRESHOLD=4", want: "did you mean OBSERVERD_THROWAWAY_THRESHOLD?"},
		}
		for _, tt := range tests {
			_, err := runOnce([]string{"observerd"}, []string{tt.give})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %v, want an error containing %q", tt.give, err, tt.want)
			}
		}
	})

	redis := testenv.StartRedis(t)
	env := []string{"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL=" + redis.URL, "OBSERVERD_THROWAWAY_THRESHOLD=7"}

	t.Run("metrics", func(t *testing.T) {
		d := startDaemonWith(t, opts, append(env, "OBSERVERD_POLL_INTERVAL=200ms")...)
		want := `observerd_invariant_violation{invariant="throwaway",severity="critical",subject="everything"} 1`
		testenv.WaitFor(t, 10*time.Second, "the throwaway violation on /metrics", func() error {
			if m := d.metrics(t); !strings.Contains(m, want) {
				return fmt.Errorf("no %s", want)
			}
			return nil
		})
		s := d.snapshot(t)
		if len(s.Violations) != 1 || s.Violations[0].Message != "7 things thrown away" {
			t.Errorf("violations = %+v, want the throwaway one with its threshold", s.Violations)
		}
	})

	t.Run("check", func(t *testing.T) {
		out, err := runOnce([]string{"observerd", "check"}, append(env, "OBSERVERD_THROWAWAY_GRACE=1h"))
		if code, _ := exitStatus(err); code != exitCritical {
			t.Errorf("check exit %d (%v), want %d", code, err, exitCritical)
		}
		if !strings.Contains(out, "CRITICAL: 1 critical violation (throwaway everything)") {
			t.Errorf("check said:\n%s", out)
		}
	})
}
