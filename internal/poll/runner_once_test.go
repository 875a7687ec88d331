package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRunnerOnce: the one-shot poll of observerd check publishes one state
// under the runner's deadline, and nothing when its context ends first.
func TestRunnerOnce(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		give    step
		wantErr string // in the published state's error; empty: a success
	}{
		{name: "success", give: step{}},
		{name: "failure", give: step{err: boom}, wantErr: "boom"},
		{name: "deadline", give: step{block: true}, wantErr: "timed out after 30ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := &Runner{Poller: &scripted{name: "redis", steps: []step{tt.give}}, Timeout: 30 * time.Millisecond, Publish: rec.publish}
			st, err := r.Once(context.Background())
			if err != nil {
				t.Fatalf("Once: %v", err)
			}
			got := rec.all()
			if len(got) != 1 || got[0].Source != "redis" || got[0].LastAttempt.IsZero() {
				t.Fatalf("published %+v, want one state of redis", got)
			}
			switch {
			case tt.wantErr == "" && (st.Err != nil || st.Section == nil || st.LastSuccess.IsZero()):
				t.Errorf("state %+v, want a success", st)
			case tt.wantErr != "" && (st.Err == nil || !strings.Contains(st.Err.Error(), tt.wantErr) || st.ConsecutiveFailures != 1):
				t.Errorf("state %+v, want one failure with %q", st, tt.wantErr)
			}
		})
	}
}

func TestRunnerOnceInterrupted(t *testing.T) {
	rec := &recorder{}
	r := &Runner{Poller: &scripted{name: "redis", steps: []step{{block: true}}}, Timeout: time.Minute, Publish: rec.publish}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := r.Once(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Once with its context cancelled = %v, want context.Canceled", err)
	}
	if got := rec.all(); len(got) != 0 {
		t.Errorf("published %d states of an interrupted poll, want none", len(got))
	}
	if _, err := (&Runner{Poller: &scripted{name: "redis", steps: []step{{}}}, Publish: rec.publish}).Once(context.Background()); err == nil {
		t.Error("Once without a timeout succeeded")
	}
}
