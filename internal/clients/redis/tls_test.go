package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/testenv"
)

const (
	adminPassword = "adm1n-Pa55word"
	userPassword  = "0bserverd-Pa55word"
	aclUser       = "observerd"
)

// aclRules are MinimalACL's rules (and ClusterACL's in a cluster) with the
// user's password.
func aclRules(cluster bool, password string) []string {
	rules := strings.Fields(MinimalACL)
	if cluster {
		rules = append(rules, strings.Fields(ClusterACL)...)
	}
	return append(rules, ">"+password)
}

// clientTLS loads the test CA and a client certificate the way a deployment
// does, from files.
func clientTLS(t *testing.T, ca *testenv.CA, withCA, withCert bool) *tls.Config {
	t.Helper()
	var f config.TLSConfig
	if withCA {
		f.CAFile = ca.CertFile
	}
	if withCert {
		c := ca.Client(t, "observerd")
		f.CertFile, f.KeyFile = c.CertFile, c.KeyFile
	}
	cfg, err := httpclient.TLSConfig(f)
	if err != nil {
		t.Fatalf("httpclient.TLSConfig: %v", err)
	}
	return cfg
}

// seedACLKeyspace writes one of each key observerd reads, as the admin.
func seedACLKeyspace(t *testing.T, ctx context.Context, rc goredis.Cmdable) {
	t.Helper()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := float64(now.UnixMilli())
	for i := range 20 {
		k := fmt.Sprintf("ratelimit:user:%d", i)
		if err := rc.ZAdd(ctx, k, goredis.Z{Score: ms, Member: "1"}, goredis.Z{Score: ms - 1, Member: "2"}).Err(); err != nil {
			t.Fatalf("seed %s: %v", k, err)
		}
	}
	if err := rc.HSet(ctx, "ratelimit:limit:user:1", "limit", "3", "window_ms", "1000").Err(); err != nil {
		t.Fatalf("seed override: %v", err)
	}
	if err := rc.HSet(ctx, "ratelimiter:nodes:node-1", "address", "127.0.0.1:8000", "registered_at", "2026-01-27T01:48:37").Err(); err != nil {
		t.Fatalf("seed registry: %v", err)
	}
}

// exercise runs every command path of observerd once, in the order a
// poller with a shared walk does, and returns the first failure.
func exercise(ctx context.Context, c *Client) error {
	if _, err := c.Ping(ctx); err != nil {
		return err
	}
	if info, err := c.Info(ctx); err != nil || info.DBKeys < 22 {
		return fmt.Errorf("Info = %+v, %w", info, err)
	}
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", NodePrefix: "ratelimiter:nodes:", Window: func(string) time.Duration { return time.Minute }})
	if err != nil {
		return err
	}
	if res.Stats.Counters != 20 || len(res.Registry) != 1 || len(res.Overrides.Overrides) != 1 {
		return fmt.Errorf("Walk read %+v, registry %+v, overrides %+v", res.Stats, res.Registry, res.Overrides)
	}
	counts, err := c.Counts(ctx, "ratelimit:", []string{"user:1", "user:2"}, nil)
	if err != nil {
		return err
	}
	if counts["user:1"] != 2 {
		return fmt.Errorf("Counts = %v", counts)
	}
	return exerciseLease(ctx, c)
}

func exerciseLease(ctx context.Context, c *Client) error {
	const lease, share = "observerd:{ratelimit:}:walk:lease", "observerd:{ratelimit:}:walk:result"
	for range 2 { // takes the lease, then renews it
		if holder, err := c.AcquireLease(ctx, lease, "me", time.Minute); err != nil || holder != "me" {
			return fmt.Errorf("AcquireLease = %q, %w", holder, err)
		}
	}
	if ok, err := c.RenewLease(ctx, lease, "me", time.Minute); err != nil || !ok {
		return fmt.Errorf("RenewLease = %v, %w", ok, err)
	}
	if err := c.PutValue(ctx, share, []byte(`{"walk":1}`), time.Minute); err != nil {
		return err
	}
	if v, _, err := c.GetValue(ctx, share, 1<<10); err != nil || string(v) != `{"walk":1}` {
		return fmt.Errorf("GetValue = %q, %w", v, err)
	}
	if err := c.ReleaseLease(ctx, lease, "me"); err != nil {
		return err
	}
	if holder, err := c.AcquireLease(ctx, lease, "other", time.Minute); err != nil || holder != "other" {
		return fmt.Errorf("AcquireLease after release = %q, %w", holder, err)
	}
	return c.ReleaseLease(ctx, lease, "other")
}

func tlsAdminClient(t *testing.T, srv *testenv.Redis, ca *testenv.CA) *goredis.Client {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{
		Addr: srv.Addr, Password: adminPassword, Protocol: 2, DisableIdentity: true,
		TLSConfig: clientTLS(t, ca, true, true),
	})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// TestTLSWithACLUser talks to a TLS-only server that wants a client
// certificate, as a user with exactly MinimalACL.
func TestTLSWithACLUser(t *testing.T) {
	ca := testenv.NewCA(t)
	srv := testenv.StartRedisWith(t, testenv.RedisOptions{CA: ca, Password: adminPassword})
	srv.SetUser(t, aclUser, aclRules(false, userPassword)...)
	ctx := testContext(t)
	seedACLKeyspace(t, ctx, tlsAdminClient(t, srv, ca))

	// The options' user and password override the URL's.
	c := newTestClient(t, Options{URL: "rediss://nobody:nothing@" + srv.Addr, Username: aclUser, Password: userPassword, TLSConfig: clientTLS(t, ca, true, true)})
	if err := exercise(ctx, c); err != nil {
		t.Fatalf("as %s with MinimalACL over TLS: %v", aclUser, err)
	}

	tests := []struct {
		name     string
		give     Options
		want     error
		wantText string
	}{
		{
			name: "no CA", give: Options{URL: srv.URL, Username: aclUser, Password: userPassword, TLSConfig: clientTLS(t, ca, false, true)},
			want: ErrTLSVerify, wantText: "TLS verification of the server's certificate failed",
		},
		{
			// Over TLS 1.3 the server refuses the certificate after the
			// client's handshake is done: the client sees a reset.
			name: "no client certificate", give: Options{URL: srv.URL, Username: aclUser, Password: userPassword, TLSConfig: clientTLS(t, ca, true, false)},
		},
		{
			name: "wrong password", give: Options{URL: srv.URL, Username: aclUser, Password: "wr0ng-" + userPassword, TLSConfig: clientTLS(t, ca, true, true)},
			want: ErrAuth, wantText: "authentication failed",
		},
		{
			name: "password in the URL", give: Options{URL: "rediss://" + aclUser + ":wr0ng-" + userPassword + "@" + srv.Addr, TLSConfig: clientTLS(t, ca, true, true)},
			want: ErrAuth, wantText: "authentication failed",
		},
		{
			name: "plain TCP to a TLS port", give: Options{URL: "redis://" + srv.Addr, Username: aclUser, Password: userPassword, ReadTimeout: 200 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.give)
			_, err := c.Ping(ctx)
			if err == nil {
				t.Fatal("Ping succeeded")
			}
			t.Log(err)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), srv.Addr) {
				t.Errorf("error %q does not say %q of %s", err, tt.wantText, srv.Addr)
			}
			for _, secret := range []string{userPassword, adminPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a password", err)
				}
			}
		})
	}
}

// TestMinimalACLIsMinimal drops each key pattern and command of MinimalACL
// in turn: every one of them is needed by some path of exercise.
func TestMinimalACLIsMinimal(t *testing.T) {
	srv := testenv.StartRedisWith(t, testenv.RedisOptions{Password: adminPassword})
	ctx := testContext(t)
	admin := seedClient(t, srv.Addr, adminPassword)
	seedACLKeyspace(t, ctx, admin)
	rules := aclRules(false, userPassword)
	for i, rule := range rules {
		if !strings.ContainsAny(rule[:1], "+~%") {
			continue
		}
		t.Run(rule, func(t *testing.T) {
			user := fmt.Sprintf("without-%d", i)
			srv.SetUser(t, user, slices.Delete(slices.Clone(rules), i, i+1)...)
			// A cached script would spare EVAL.
			srv.Do(t, "SCRIPT", "FLUSH")
			c := newTestClient(t, Options{URL: srv.URL, Username: user, Password: userPassword})
			err := exercise(ctx, c)
			if !errors.Is(err, ErrNoPermission) {
				t.Errorf("without %s: %v, want ErrNoPermission", rule, err)
			}
		})
	}
}

// TestTLSClusterWithACLUser runs every path against a TLS cluster whose
// nodes each know the user with MinimalACL and ClusterACL, given one seed.
func TestTLSClusterWithACLUser(t *testing.T) {
	ca := testenv.NewCA(t)
	cluster := testenv.StartRedisClusterWith(t, 3, testenv.RedisOptions{CA: ca, Password: adminPassword})
	for _, n := range cluster.Nodes() {
		n.SetUser(t, aclUser, aclRules(true, userPassword)...)
	}
	ctx := testContext(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs: cluster.Addrs, Password: adminPassword, Protocol: 2, DisableIdentity: true,
		TLSConfig: clientTLS(t, ca, true, true),
	})
	t.Cleanup(func() { cc.Close() })
	seedACLKeyspace(t, ctx, cc)

	c := newTestClient(t, Options{ClusterAddrs: cluster.Addrs[:1], URL: "rediss://" + cluster.Addrs[0], Username: aclUser, Password: userPassword, TLSConfig: clientTLS(t, ca, true, true)})
	if err := exercise(ctx, c); err != nil {
		t.Fatalf("as %s with MinimalACL and ClusterACL over TLS: %v", aclUser, err)
	}
}
