package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server child process on a loopback port.
type Redis struct {
	// Addr is host:port.
	Addr string
	// URL is redis://Addr.
	URL  string
	proc *process
}

// StartRedis starts a redis-server with no persistence on a free loopback
// port and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	path := LookBinary(t, "redis-server", "redis-server")
	port := FreePort(t)
	dir := t.TempDir()
	r := &Redis{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		proc: &process{
			name: "redis",
			path: path,
			dir:  dir,
			args: []string{
				"--port", itoa(port), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--dir", dir,
				"--protected-mode", "no", "--daemonize", "no",
			},
		},
	}
	r.URL = "redis://" + r.Addr
	t.Cleanup(r.proc.stop)
	r.Start(t)
	return r
}

// Start starts the server again on the same port after Stop (its data is
// gone) and waits until it answers PING.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.proc.start(t)
	WaitFor(t, startTimeout, "redis-server on "+r.Addr, func() error {
		if r.proc.exited() {
			return fmt.Errorf("%w: %s", errExited, r.proc.logTail())
		}
		return r.ping()
	})
}

// Stop stops the server and waits for it to exit.
func (r *Redis) Stop() { r.proc.stop() }

// ping speaks RESP by hand so that testenv needs no client library.
func (r *Redis) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
