package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestProxyCutRestore(t *testing.T) {
	r := StartRedis(t)
	p := StartProxy(t, r.Addr)
	c := redis.NewClient(&redis.Options{
		Addr: p.Addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	defer c.Close()
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
	if err := ping(); err != nil {
		t.Fatalf("ping through the proxy: %v", err)
	}

	p.Cut()
	// The pooled connection was closed, and a new one is closed at once.
	for i := range 2 {
		if err := ping(); err == nil {
			t.Fatalf("ping %d through the cut proxy succeeded", i+1)
		}
	}
	if err := r.ping(); err != nil {
		t.Fatalf("redis itself stopped answering while the proxy was cut: %v", err)
	}

	p.Restore()
	if err := ping(); err != nil {
		t.Fatalf("ping after Restore: %v", err)
	}

	// The upstream going away closes the connections through the proxy,
	// and its return is seen through the proxy.
	r.Stop()
	if err := ping(); err == nil {
		t.Fatal("ping through the proxy succeeded while redis was stopped")
	}
	r.Start(t)
	if err := ping(); err != nil {
		t.Fatalf("ping after redis came back: %v", err)
	}

	p.Close()
	p.Close()
	if err := ping(); err == nil {
		t.Fatal("ping through a closed proxy succeeded")
	}
}
