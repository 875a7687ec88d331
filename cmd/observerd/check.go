package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"go.uber.org/zap"
)

// Exit codes of `observerd check`.
const (
	exitOK       = 0 // no critical violation holds
	exitUnknown  = 1 // it could not judge: a bad setting, an interrupted check, every source failed
	exitCritical = 2 // a critical violation holds
)

// exitError ends observerd with code. main prints err unless it is nil:
// a check that exits 1 or 2 on its verdict has said why on its own.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitStatus is the exit code of run's error, and whether main should
// print it: 1 and yes for any error but an exitError, 0 for nil.
func exitStatus(err error) (code int, say bool) {
	if err == nil {
		return exitOK, false
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.err != nil
	}
	return exitUnknown, true
}

// runCheck is `observerd check`: args are the subcommand's own, args[0]
// "check". It polls every enabled source once, judges the one snapshot
// they make and returns nil (exit 0), or an exitError with the code.
func runCheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer, invs []health.Invariant) error {
	cfg, asJSON, done, err := parseCheckArgs(args, environ, stdout, stderr, invs)
	if err != nil || done {
		return err
	}
	cfg = checkConfig(cfg)
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	// The summary reports every violation: the store and its judge log
	// nothing, or stderr would say each one again.
	store, err := newStore(cfg, zap.NewNop(), nil)
	if err != nil {
		return err
	}
	srcs, err := newSources(cfg, store, nil, logger)
	if err != nil {
		return err
	}
	err = pollAll(ctx, cfg, srcs, store)
	srcs.close()
	if err != nil {
		return fmt.Errorf("check interrupted: %w", err)
	}
	p := store.Load()
	if p == nil {
		return errors.New("check: no source polled")
	}
	v := verdictOf(p.Snapshot, cfg.Sources)
	if asJSON {
		err = writeJSON(stdout, stderr, p.JSON, v)
	} else {
		err = writeSummary(stdout, p.Snapshot, cfg.Sources, v)
	}
	if err != nil {
		return err
	}
	if v.code == exitOK {
		return nil
	}
	return &exitError{code: v.code}
}

// parseCheckArgs reads the check's flags and the daemon's configuration.
// done is true when -h was answered.
func parseCheckArgs(args, environ []string, stdout, stderr io.Writer, invs []health.Invariant) (cfg config.Config, asJSON, done bool, err error) {
	fs := flag.NewFlagSet("observerd check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&asJSON, "json", false, "print the snapshot JSON instead of the summary")
	fs.Usage = func() { _ = checkUsage(stdout, invs) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, false, true, nil
		}
		return cfg, false, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, false, fmt.Errorf("check: unexpected arguments %q: observerd is configured from the environment (observerd check -h)", fs.Args())
	}
	cfg, err = config.LoadWith(environ, invs)
	return cfg, asJSON, false, err
}

// checkConfig is cfg as a one-shot check runs it: grace periods ignored,
// the keyspace walked alone, without the walk lease (so nothing is written
// to Redis), and the info logs, which the summary repeats, left out.
func checkConfig(cfg config.Config) config.Config {
	cfg.Invariants = cfg.Invariants.WithoutGrace()
	cfg.RedisWalkCoordination = config.WalkAlone
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn"
	}
	return cfg
}

// pollAll polls every enabled source once under its own deadline, in the
// order that lets each use the others' answers through the store's hints:
// the nodes (their default limit and window and their sampled keys judge
// the Redis walk), Redis, the nodes again only when the registry named
// one the first poll did not ask, then Prometheus. It returns an error
// only when ctx ended.
func pollAll(ctx context.Context, cfg config.Config, srcs *sources, store *snapshot.Store) error {
	runners := make(map[string]*poll.Runner, len(srcs.runners))
	for _, r := range srcs.runners {
		runners[r.Poller.Name()] = r
	}
	once := func(name string) (snapshot.SourceState, error) {
		if r, ok := runners[name]; ok {
			return r.Once(ctx)
		}
		return snapshot.SourceState{}, nil
	}
	nodes, err := once(source.Ratelimiter)
	if err != nil {
		return err
	}
	if _, err := once(source.Redis); err != nil {
		return err
	}
	if cfg.RatelimiterDiscover && unasked(nodes, store.Hints().RegistryAddrs) {
		if _, err := once(source.Ratelimiter); err != nil {
			return err
		}
	}
	_, err = once(source.Prometheus)
	return err
}

// unasked reports whether the registry names a node address that the
// nodes poll of state did not ask.
func unasked(state snapshot.SourceState, registry []string) bool {
	asked := make(map[string]bool)
	if sec, ok := state.Section.(*snapshot.NodesSection); ok {
		for _, n := range sec.Nodes {
			asked[strings.ToLower(n.Address)] = true
		}
	}
	for _, addr := range registry {
		if addr = strings.TrimSpace(addr); addr != "" && !asked[strings.ToLower(addr)] {
			return true
		}
	}
	return false
}

// writeJSON writes the published snapshot to stdout and the verdict line
// to stderr, so that stdout parses as JSON.
func writeJSON(stdout, stderr io.Writer, body []byte, v verdict) error {
	if _, err := fmt.Fprintf(stdout, "%s\n", body); err != nil {
		return fmt.Errorf("write the snapshot: %w", err)
	}
	if _, err := fmt.Fprintln(stderr, v.line); err != nil {
		return fmt.Errorf("write the verdict: %w", err)
	}
	return nil
}

// checkUsage is `observerd check -h`.
func checkUsage(w io.Writer, invs []health.Invariant) error {
	if _, err := io.WriteString(w, strings.Replace(checkHelp, "{critical}", strings.Join(criticalNames(invs), ", "), 1)); err != nil {
		return err
	}
	return config.WriteVars(w, config.Vars(invs))
}

const checkHelp = `Usage: observerd check [-json] [-h]

observerd check looks at the cluster once and says whether a critical
violation holds now. It polls every enabled source once, builds one
snapshot and judges it the way the daemon does, prints a summary (sources,
nodes, counters, every violation, critical first, with its evidence and
its likely causes) ending with a verdict line, and exits:

  0  no critical violation holds (warnings may)
  2  a critical violation holds ({critical})
  1  it could not judge: a bad setting, an interrupted check (Ctrl-C), or
     every enabled source failed. A source that failed while others
     answered is judged from what is there: a Redis that does not answer is
     redis_disconnected, which is critical; the invariants a failed source
     feeds are unknown, and the verdict line names them.

  -json, --json  print the snapshot JSON (schema_version 1, as /snapshot
                 serves it) instead of the summary; the verdict line goes
                 to stderr.

Where it differs from the daemon:

  - Grace periods are not waited for: an invariant is reported when it
    holds at the check (OBSERVERD_*_GRACE are read and validated, then
    taken as 0). A node restarting at that moment is node_down.
  - It walks the Redis keyspace itself, once, without the walk lease: it
    neither takes nor waits for the lease, reads no shared walk and writes
    nothing to Redis, whatever OBSERVERD_REDIS_WALK_COORDINATION says, so
    the fleet's walker carries on undisturbed. The walk is paced and
    bounded as the daemon's (OBSERVERD_REDIS_WALK_BUDGET,
    OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND, OBSERVERD_REDIS_POLL_TIMEOUT).
  - Order: the configured nodes first (their default limit and sampled keys
    judge the Redis walk), then Redis, then the nodes the registry names
    that were not asked yet, then Prometheus. It knows only the configured
    nodes and those registered now: a node whose registry entry has expired
    is not known to it (the daemon remembers it).
  - Each poll has its own deadline (OBSERVERD_*_POLL_TIMEOUT), so a check
    takes at most their sum, the node API's counted twice; Ctrl-C or
    SIGTERM stops it at once.
  - No HTTP listener and no background work. Logs go to stderr at
    OBSERVERD_LOG_LEVEL, with info taken as warn: the summary says what
    the info lines would.

It reads the daemon's configuration from the environment, with the same
checks (an empty variable counts as unset):

`

// criticalNames are the names of the critical invariants among invs.
func criticalNames(invs []health.Invariant) []string {
	var out []string
	for _, inv := range invs {
		if inv.Severity == health.SeverityCritical {
			out = append(out, inv.Name)
		}
	}
	return out
}
