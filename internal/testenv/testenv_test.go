package testenv

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestRedisStopStart(t *testing.T) {
	r := StartRedis(t)
	if err := r.ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	r.Stop()
	if err := r.ping(); err == nil {
		t.Fatal("ping succeeded after Stop")
	}
	r.Start(t)
	if err := r.ping(); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPrometheusStarts(t *testing.T) {
	p := StartPrometheus(t, PrometheusConfig{Targets: []string{"127.0.0.1:1"}})
	if err := getReady(p.URL); err != nil {
		t.Fatalf("started: %v", err)
	}
	p.Stop()
	if err := getReady(p.URL); err == nil {
		t.Fatalf("%s/-/ready answered 200 after Stop", p.URL)
	}
	p.Start(t)
	if err := getReady(p.URL); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// getReady asks base/-/ready once and returns nil when it answers 200.
func getReady(base string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
	if err != nil {
		return fmt.Errorf("build GET %s/-/ready: %w", base, err)
	}
	// No keep-alive: an idle connection would outlive the test.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s/-/ready: %w", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/-/ready answered %s", base, resp.Status)
	}
	return nil
}

// TestFreePortNeverRepeats asks for ports from parallel tests, more than
// the kernel's random choice lets pass without a repeat, and wants every
// one different.
func TestFreePortNeverRepeats(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]string{}
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			name := fmt.Sprintf("asker-%d", i)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				for range 50 {
					p := FreePort(t)
					mu.Lock()
					if other, ok := seen[p]; ok {
						t.Errorf("port %d handed out to %s and %s", p, other, name)
					}
					seen[p] = name
					mu.Unlock()
				}
			})
		}
	})
	if len(seen) != 400 {
		t.Errorf("%d distinct ports of 400", len(seen))
	}
}

func TestPortSetClaim(t *testing.T) {
	s := newPortSet()
	if !s.claim(4000) {
		t.Fatal("first claim of 4000 refused")
	}
	if s.claim(4000) {
		t.Fatal("second claim of 4000 granted")
	}
	if !s.claim(4001) {
		t.Fatal("first claim of 4001 refused")
	}
}
