package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
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
	// tls, when set, is how testenv's own connections speak TLS to a
	// server started with a CA; password is the default user's.
	tls      *tls.Config
	password string
}

// StartRedis starts a redis-server with no persistence on a free loopback
// port and stops it when the test ends. A port taken between choosing and
// binding it (by another test binary) is given up for another.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedisServer(t, FreePort)
}

// startRedisServer starts a redis-server with no persistence on a port that
// pick chooses, with extra arguments after the common ones, waits until it
// answers and stops it when the test ends. A server that does not come up,
// because its port was taken in the meantime, is tried again on another.
func startRedisServer(t testing.TB, pick func(testing.TB) int, extra ...string) *Redis {
	t.Helper()
	return startRedisSpec(t, redisSpec{pick: pick, extra: extra})
}

// redisSpec is what tells one test server from another: how its port is
// chosen, the arguments after the common ones and how testenv talks to it.
type redisSpec struct {
	pick  func(testing.TB) int
	extra []string
	// tls, when set, serves TLS only on the port (plain TCP on none) and
	// is testenv's own client configuration.
	tls *tls.Config
	// password is the default user's (requirepass).
	password string
}

// portArgs are the arguments that bind the server to port.
func (s redisSpec) portArgs(port int) []string {
	if s.tls != nil {
		return []string{"--port", "0", "--tls-port", itoa(port)}
	}
	return []string{"--port", itoa(port)}
}

func startRedisSpec(t testing.TB, spec redisSpec) *Redis {
	t.Helper()
	path := LookBinary(t, "redis-server", "redis-server")
	var err error
	for range startAttempts {
		port := spec.pick(t)
		dir := t.TempDir()
		args := append(spec.portArgs(port),
			"--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--protected-mode", "no", "--daemonize", "no",
		)
		r := &Redis{
			Addr:     fmt.Sprintf("127.0.0.1:%d", port),
			proc:     &process{name: "redis", path: path, dir: dir, args: append(args, spec.extra...)},
			tls:      spec.tls,
			password: spec.password,
		}
		r.URL = "redis://" + r.Addr
		if spec.tls != nil {
			r.URL = "rediss://" + r.Addr
		}
		t.Cleanup(r.proc.stop)
		r.proc.start(t)
		if err = Poll(startTimeout, r.ready); err == nil {
			return r
		}
		r.proc.stop()
	}
	t.Fatalf("start redis-server: %v", err)
	return nil
}

// Start starts the server again on the same port after Stop (its data is
// gone) and waits until it answers.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.proc.start(t)
	WaitFor(t, startTimeout, "redis-server on "+r.Addr, r.ready)
}

// ready answers nil once this very process answers on Addr: another
// redis-server on the port would make the test talk to a stranger.
func (r *Redis) ready() error {
	if r.proc.exited() {
		return fmt.Errorf("%w: %s", errExited, r.proc.logTail())
	}
	info, err := r.command("INFO server")
	if err != nil {
		return err
	}
	want := "process_id:" + itoa(r.proc.pid())
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "process_id:") && strings.TrimSpace(line) != want {
			return fmt.Errorf("%s answered by another redis-server (%s)", r.Addr, strings.TrimSpace(line))
		}
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

// PID is the server's process id, 0 when it is not running.
func (r *Redis) PID() int { return r.proc.pid() }

// ping answers nil when the server answers PING.
func (r *Redis) ping() error {
	line, err := r.command("PING")
	if err != nil {
		return err
	}
	if line != "PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// CommandCalls is how many times the server has run cmd (lower case, as
// INFO commandstats names it) since it started or since CONFIG RESETSTAT:
// what a test reads to count the work a client gave Redis.
func (r *Redis) CommandCalls(t testing.TB, cmd string) int64 {
	t.Helper()
	info, err := r.command("INFO commandstats")
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			t.Fatalf("INFO commandstats line %q: %v", line, err)
		}
		return n
	}
	return 0
}

// command sends one command whose words are separated by spaces; see do.
func (r *Redis) command(cmd string) (string, error) {
	return r.do(strings.Fields(cmd)...)
}

// do sends one command as a RESP array of its arguments and reads a
// simple string, integer or bulk string reply, speaking RESP by hand so
// that testenv needs no client library. It speaks TLS to a TLS server and
// authenticates as the default user first when the server has a password.
// An error reply is a *replyError.
func (r *Redis) do(args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("empty command")
	}
	timeout := time.Second
	if r.tls != nil {
		// The handshake rides on the first write, and a loaded machine
		// running -race takes more than a second for it and a CLUSTER
		// ADDSLOTS of thousands of slots.
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := r.dial(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	var req []byte
	if r.password != "" {
		req = encodeCommand([]string{"AUTH", r.password})
	}
	if _, err := c.Write(append(req, encodeCommand(args)...)); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	if r.password != "" {
		if _, err := readReply(br, "AUTH"); err != nil {
			return "", err
		}
	}
	return readReply(br, args[0])
}

// dial connects to the server, over TLS when it speaks TLS.
func (r *Redis) dial(ctx context.Context) (net.Conn, error) {
	if r.tls == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", r.Addr)
	}
	d := tls.Dialer{Config: r.tls}
	return d.DialContext(ctx, "tcp", r.Addr)
}

// replyError is an error reply of the server, such as "MOVED 3999
// 127.0.0.1:7000".
type replyError struct {
	cmd string // the command's name
	msg string // the reply without its leading "-"
}

func (e *replyError) Error() string { return e.cmd + " answered -" + e.msg }

// encodeCommand writes args as a RESP array of bulk strings.
func encodeCommand(args []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// readReply reads one simple string, integer, error or bulk string reply
// to the command named cmd. A null bulk string is an error.
func readReply(br *bufio.Reader, cmd string) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%s: empty reply", cmd)
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", &replyError{cmd: cmd, msg: line[1:]}
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("%s: bad or null bulk reply %q", cmd, line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("%s answered %q", cmd, line)
	}
}
