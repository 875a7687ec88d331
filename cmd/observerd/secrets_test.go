package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// TestSecretsNeverLeak runs observerd against a password-protected Redis,
// with the right password in the URL, a wrong one, and one from a file, and
// looks for the passwords in everything observerd says.
func TestSecretsNeverLeak(t *testing.T) {
	const secret, wrong, fromFile = "s3cr3t-in-url", "wr0ng-pa55word", "s3cr3t-from-file"
	r := testenv.StartRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.ConfigSet(ctx, "requirepass", secret).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Close()
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    []string
		wantOK bool
	}{
		{name: "right password in the URL", env: []string{"OBSERVERD_REDIS_URL=redis://:" + secret + "@" + r.Addr}, wantOK: true},
		{name: "wrong password in the URL", env: []string{"OBSERVERD_REDIS_URL=redis://user:" + wrong + "@" + r.Addr}},
		{name: "wrong password from a file", env: []string{"OBSERVERD_REDIS_URL=redis://" + r.Addr, "OBSERVERD_REDIS_PASSWORD_FILE=" + file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t, append([]string{"OBSERVERD_SOURCES=redis", "OBSERVERD_POLL_INTERVAL=100ms", "OBSERVERD_LOG_LEVEL=debug"}, tt.env...)...)
			s := d.waitSnapshot(t, 10*time.Second, "a finished Redis poll", func(s *snapshot.Snapshot) error {
				st := s.Sources["redis"]
				if tt.wantOK != (st.Status == snapshot.StatusOK) || st.LastAttempt == nil {
					return fmt.Errorf("redis source %+v", st)
				}
				return nil
			})
			// A bad AUTH is answered "WRONGPASS invalid username-password
			// pair or user is disabled."; the source must keep that cause.
			if got := s.Sources["redis"].Error; !tt.wantOK && !strings.Contains(got, "WRONGPASS") {
				t.Errorf("redis source error %q does not say the authentication failed (WRONGPASS)", got)
			}
			_, body := d.get(t, "/snapshot")
			_, ready := d.get(t, "/readyz")
			everything := string(body) + d.metrics(t) + string(ready)
			if err := d.stop(); err != nil {
				t.Fatal(err)
			}
			everything += d.logs.String()
			for _, p := range []string{secret, wrong, fromFile} {
				if strings.Contains(everything, p) {
					t.Errorf("password %q appears in observerd's output", p)
				}
			}
		})
	}
}
