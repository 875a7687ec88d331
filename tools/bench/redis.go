package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
	goredis "github.com/redis/go-redis/v9"
)

// benchRedis is the throwaway redis-server of the run.
type benchRedis struct {
	addr     string
	password string
	url      string // with the password
	proc     *procs.Child
	rc       *goredis.Client
	version  string
}

// startRedis starts redis-server without persistence on a free loopback
// port, working in the temp dir, and waits until this very process answers.
// A random password keeps out clients of other programs on the machine
// that reach the port by chance (a test suite whose own Redis had it
// before), which would change the keyspace under measurement.
func startRedis(ctx context.Context, p *procs.Group) (*benchRedis, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found: run scripts/install-deps.sh (apt-get install redis-server): %w", err)
	}
	port, err := procs.FreePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	r := &benchRedis{addr: fmt.Sprintf("127.0.0.1:%d", port), password: hex.EncodeToString(secret)}
	r.url = "redis://:" + r.password + "@" + r.addr
	c, err := p.Start("redis", path, []string{
		"--port", itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", p.Dir(), "--protected-mode", "no", "--daemonize", "no", "--requirepass", r.password,
	}, nil)
	if err != nil {
		return nil, err
	}
	r.proc = c
	r.rc = goredis.NewClient(&goredis.Options{Addr: r.addr, Password: r.password, Protocol: 2, DisableIdentity: true, ReadTimeout: time.Minute})
	err = procs.WaitFor(ctx, 30*time.Second, "redis-server on "+r.addr, func() error {
		if err := c.Alive(); err != nil {
			return err
		}
		return r.owned(ctx)
	})
	if err != nil {
		r.rc.Close()
		return nil, err
	}
	return r, nil
}

// owned checks that the server on addr is the one the bench started, and
// notes its version.
func (r *benchRedis) owned(ctx context.Context) error {
	info, err := r.rc.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	fields := infoFields(info)
	if fields["process_id"] != itoa(r.proc.PID()) {
		return fmt.Errorf("%s is answered by another redis-server (pid %s)", r.addr, fields["process_id"])
	}
	r.version = fields["redis_version"]
	return nil
}

// infoFields parses INFO's "name:value" lines.
func infoFields(info string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// cmdStats is INFO commandstats: per command, calls and microseconds.
type cmdStats map[string]cmdStat

type cmdStat struct{ calls, usec int64 }

// commandStats reads INFO commandstats; subcommands (config|resetstat)
// keep their own line.
func (r *benchRedis) commandStats(ctx context.Context) (cmdStats, error) {
	info, err := r.rc.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := cmdStats{}
	for name, v := range infoFields(info) {
		cmd, ok := strings.CutPrefix(name, "cmdstat_")
		if !ok {
			continue
		}
		var s cmdStat
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(val, 10, 64)
			switch k {
			case "calls":
				s.calls = n
			case "usec":
				s.usec = n
			}
		}
		out[cmd] = s
	}
	return out, nil
}

// total is the server time of every command.
func (s cmdStats) total() (usec int64) {
	for _, c := range s {
		usec += c.usec
	}
	return usec
}

// resetStats zeroes the command statistics.
func (r *benchRedis) resetStats(ctx context.Context) error {
	return r.rc.ConfigResetStat(ctx).Err()
}

// serverTime is Redis's clock in Unix milliseconds.
func (r *benchRedis) serverTime(ctx context.Context) (int64, error) {
	t, err := r.rc.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

func (r *benchRedis) close() {
	if r.rc != nil {
		r.rc.Close()
	}
}
