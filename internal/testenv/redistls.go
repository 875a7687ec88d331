package testenv

import (
	"crypto/tls"
	"testing"
)

// RedisOptions are what StartRedisWith and StartRedisClusterWith add to a
// plain test server. The zero value is StartRedis's server.
type RedisOptions struct {
	// CA, when set, makes the server speak TLS only: --port 0 and the
	// chosen port as --tls-port, with a server certificate CA issues and
	// CA as the authority client certificates must come from. testenv's
	// own connections present a client certificate of CA.
	CA *CA
	// ClientCerts is --tls-auth-clients: "yes" (the default with a CA)
	// requires a client certificate, "optional" verifies one if given,
	// "no" asks for none.
	ClientCerts string
	// Password, when set, is the default user's password (requirepass):
	// a client must authenticate. testenv does, as the default user.
	Password string
}

// StartRedisWith starts a redis-server as StartRedis does, with TLS and a
// password as opts say, and waits until it answers over TLS. Its URL is
// rediss://Addr with a CA.
func StartRedisWith(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	return startRedisSpec(t, opts.spec(t, FreePort))
}

// spec turns opts into the arguments of one server; each server gets
// certificates of its own.
func (o RedisOptions) spec(t testing.TB, pick func(testing.TB) int) redisSpec {
	t.Helper()
	s := redisSpec{pick: pick, password: o.Password}
	if o.Password != "" {
		s.extra = append(s.extra, "--requirepass", o.Password)
	}
	if o.CA == nil {
		return s
	}
	auth := o.ClientCerts
	if auth == "" {
		auth = "yes"
	}
	// Named by the serial they get, so that the servers of one CA keep
	// files of their own.
	n := itoa(int(o.CA.serial + 1))
	server := o.CA.Server(t, "redis-server-"+n)
	// A server dialling another (the cluster bus, a replica) presents
	// this one: the server certificate is for server authentication only.
	peer := o.CA.Client(t, "redis-peer-"+n)
	own := o.CA.Client(t, "testenv-"+n)
	s.extra = append(s.extra,
		"--tls-cert-file", server.CertFile, "--tls-key-file", server.KeyFile,
		"--tls-client-cert-file", peer.CertFile, "--tls-client-key-file", peer.KeyFile,
		"--tls-ca-cert-file", o.CA.CertFile, "--tls-auth-clients", auth,
	)
	s.tls = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      o.CA.Pool(),
		Certificates: []tls.Certificate{own.TLS(t)},
	}
	return s
}

// SetUser creates or changes the ACL user name with ACL SETUSER and the
// rules as Redis spells them ("on", ">password", "~ratelimit:*",
// "+ping", ...), and fails the test if Redis refuses them.
func (r *Redis) SetUser(t testing.TB, name string, rules ...string) {
	t.Helper()
	if _, err := r.do(append([]string{"ACL", "SETUSER", name}, rules...)...); err != nil {
		t.Fatalf("ACL SETUSER %s on %s: %v", name, r.Addr, err)
	}
}

// Do runs one command as the default user, over TLS when the server
// speaks it, and returns a simple string, integer or bulk string reply;
// an error reply, or a reply of another kind, fails the test.
func (r *Redis) Do(t testing.TB, args ...string) string {
	t.Helper()
	reply, err := r.do(args...)
	if err != nil {
		t.Fatalf("%.20q on %s: %v", args, r.Addr, err)
	}
	return reply
}
