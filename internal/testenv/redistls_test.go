package testenv

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestRedisWithTLSAndPassword starts a TLS-only server that wants a client
// certificate and a password: testenv's own client gets in, plain TCP and
// a client without the password do not.
func TestRedisWithTLSAndPassword(t *testing.T) {
	ca := NewCA(t)
	r := StartRedisWith(t, RedisOptions{CA: ca, Password: "adm1n-pw"})
	if !strings.HasPrefix(r.URL, "rediss://") {
		t.Errorf("URL = %q, want rediss://", r.URL)
	}
	if got := r.Do(t, "PING"); got != "PONG" {
		t.Errorf("PING = %q", got)
	}
	r.SetUser(t, "alice", "on", ">alice-pw", "~a:*", "+ping")
	if got := r.Do(t, "ACL", "WHOAMI"); got != "default" {
		t.Errorf("ACL WHOAMI = %q, want default", got)
	}

	plain := &Redis{Addr: r.Addr}
	if _, err := plain.do("PING"); err == nil {
		t.Error("PING over plain TCP succeeded against a TLS-only server")
	}
	noPassword := &Redis{Addr: r.Addr, tls: r.tls}
	_, err := noPassword.do("PING")
	var re redis.Error
	if !errors.As(err, &re) || !strings.HasPrefix(re.Error(), "NOAUTH") {
		t.Errorf("PING without the password: %v, want -NOAUTH", err)
	}
	alice := &Redis{Addr: r.Addr, tls: r.tls, password: "alice-pw"}
	if _, err := alice.do("PING"); err == nil {
		t.Error("AUTH alice-pw as the default user succeeded")
	}

	r.Stop()
	r.Start(t)
	if got := r.Do(t, "PING"); got != "PONG" {
		t.Errorf("PING after restart = %q", got)
	}
}

// TestRedisClusterWithTLS forms a cluster whose clients and bus speak TLS.
func TestRedisClusterWithTLS(t *testing.T) {
	c := StartRedisClusterWith(t, 3, RedisOptions{CA: NewCA(t), Password: "pw"})
	for _, n := range c.nodes {
		if n.tls == nil {
			t.Fatalf("%s: no TLS", n.Addr)
		}
	}
	if got := c.nodes[0].Do(t, "CLUSTER", "INFO"); !strings.Contains(got, "cluster_state:ok") {
		t.Errorf("CLUSTER INFO = %q", got)
	}
}
