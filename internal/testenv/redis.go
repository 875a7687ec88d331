package testenv

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server child process on a loopback port.
type Redis struct {
	// Addr is host:port.
	Addr string
	// URL is redis://Addr, or rediss://Addr with a CA.
	URL  string
	proc *process
	// tls, when set, is how testenv's own connections speak TLS to a
	// server started with a CA; password is the default user's.
	tls      *tls.Config
	password string
}

// RedisOptions are what StartRedisWith and StartRedisClusterWith add to a
// plain test server. The zero value is StartRedis's server.
type RedisOptions struct {
	// CA, when set, makes the server speak TLS only, with a certificate
	// CA issues; the client certificates it takes are CA's, and testenv's
	// own connections present one.
	CA *CA
	// ClientCerts is --tls-auth-clients: "yes" (the default with a CA)
	// requires a client certificate, "optional" verifies one if given,
	// "no" asks for none.
	ClientCerts string
	// Password, when set, is the default user's password (requirepass):
	// a client must authenticate. testenv does, as the default user.
	Password string
}

// StartRedis starts a redis-server with no persistence on a free loopback
// port, waits until it answers and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t, RedisOptions{})
}

// StartRedisWith starts a redis-server as StartRedis does, with TLS and a
// password as opts say.
func StartRedisWith(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	return startRedis(t, opts, nil)
}

// startRedis starts a server with opts and, when extra is set, the
// arguments it returns for each port tried after the common ones.
func startRedis(t testing.TB, opts RedisOptions, extra func() []string) *Redis {
	t.Helper()
	path := LookBinary(t, "redis-server", "redis-server")
	args, tlsConfig := opts.args(t)
	scheme, portFlag := "redis://", "--port"
	if tlsConfig != nil {
		scheme, portFlag = "rediss://", "--tls-port"
		args = append(args, "--port", "0")
	}
	var r *Redis
	startOnFreePort(t, func(port int) *process {
		r = &Redis{Addr: "127.0.0.1:" + itoa(port), tls: tlsConfig, password: opts.Password}
		r.URL = scheme + r.Addr
		dir := t.TempDir()
		r.proc = &process{name: "redis", path: path, dir: dir, ready: r.ready, args: append([]string{
			portFlag, itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--protected-mode", "no", "--daemonize", "no",
		}, args...)}
		if extra != nil {
			r.proc.args = append(r.proc.args, extra()...)
		}
		return r.proc
	})
	return r
}

// args are the arguments of a server with o's TLS and password, and how
// testenv speaks TLS to it; each server gets certificates of its own.
func (o RedisOptions) args(t testing.TB) ([]string, *tls.Config) {
	t.Helper()
	var args []string
	if o.Password != "" {
		args = append(args, "--requirepass", o.Password)
	}
	if o.CA == nil {
		return args, nil
	}
	// Named by the serial they get, so that the servers of one CA keep
	// files of their own.
	n := itoa(int(o.CA.serial + 1))
	server := o.CA.Server(t, "redis-server-"+n)
	// A server dialling another (the cluster bus, a replica) presents
	// this one: the server certificate is for server authentication only.
	peer := o.CA.Client(t, "redis-peer-"+n)
	own := o.CA.Client(t, "testenv-"+n)
	args = append(args,
		"--tls-cert-file", server.CertFile, "--tls-key-file", server.KeyFile,
		"--tls-client-cert-file", peer.CertFile, "--tls-client-key-file", peer.KeyFile,
		"--tls-ca-cert-file", o.CA.CertFile, "--tls-auth-clients", cmp.Or(o.ClientCerts, "yes"),
	)
	return args, &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.CA.Pool(), Certificates: []tls.Certificate{own.TLS(t)}}
}

// Start starts the server again on the same port after Stop (its data is
// gone) and waits until it answers.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.proc.restart(t, "redis-server on "+r.Addr)
}

func (r *Redis) ready() error {
	info, err := r.do("INFO", "server")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "process_id:"+itoa(r.proc.pid())+"\r\n") {
		return fmt.Errorf("%s answered by another redis-server", r.Addr)
	}
	return nil
}

// Stop stops the server and waits for it to exit.
func (r *Redis) Stop() { r.proc.stop() }

// Pause freezes the server with SIGSTOP: it keeps its port and its
// connections open and answers nothing until Resume.
func (r *Redis) Pause(t testing.TB) {
	t.Helper()
	if err := r.proc.signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause redis-server on %s: %v", r.Addr, err)
	}
}

// Resume thaws a server frozen by Pause (SIGCONT).
func (r *Redis) Resume(t testing.TB) {
	t.Helper()
	if err := r.proc.signal(syscall.SIGCONT); err != nil {
		t.Fatalf("resume redis-server on %s: %v", r.Addr, err)
	}
}

// CommandCalls is how many times the server has run cmd (lower case, as
// INFO commandstats names it) since it started or since CONFIG RESETSTAT:
// what a test reads to count the work a client gave Redis.
func (r *Redis) CommandCalls(t testing.TB, cmd string) int64 {
	t.Helper()
	info := r.Do(t, "INFO", "commandstats")
	_, rest, found := strings.Cut(info, "\ncmdstat_"+cmd+":calls=")
	if !found {
		return 0
	}
	calls, _, _ := strings.Cut(rest, ",")
	n, err := strconv.ParseInt(calls, 10, 64)
	if err != nil {
		t.Fatalf("INFO commandstats of %s: %v", cmd, err)
	}
	return n
}

// SetUser creates or changes the ACL user name with ACL SETUSER and the
// rules as Redis spells them ("on", ">password", "~ratelimit:*",
// "+ping", ...), and fails the test if Redis refuses them.
func (r *Redis) SetUser(t testing.TB, name string, rules ...string) {
	t.Helper()
	r.Do(t, append([]string{"ACL", "SETUSER", name}, rules...)...)
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

// ping answers nil when the server answers PING.
func (r *Redis) ping() error {
	_, err := r.do("PING")
	return err
}

// do runs one command on a connection of its own and returns a simple
// string, integer or bulk string reply. An error reply is a redis.Error.
func (r *Redis) do(args ...string) (string, error) {
	timeout := time.Second
	if r.tls != nil {
		// A loaded machine running -race may take more than a second for
		// a handshake.
		timeout = 5 * time.Second
	}
	c := redis.NewClient(&redis.Options{
		Addr: r.Addr, TLSConfig: r.tls, Password: r.password,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		// More than the one connection a command dials, so that a failed
		// dial never starts the pool's redialer, which outlives Close.
		PoolSize: 2,
	})
	defer c.Close()
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	reply, err := c.Do(context.Background(), cmd...).Result()
	if err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	switch v := reply.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	}
	return "", fmt.Errorf("%s answered a reply of type %T", args[0], reply)
}
