package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	rlclient "github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/statuspage"
)

// explainTimeout bounds `observerd explain` and each GET /keys/{key}: the
// reads of Redis and the nodes, and the CLI's question to the daemon.
const explainTimeout = 5 * time.Second

// explainParts are what an explainer needs besides its nodes.
type explainParts struct {
	redis   *redisclient.Client
	nodeOpt rlclient.Options
}

func (p *explainParts) close() {
	if p.redis != nil {
		_ = p.redis.Close()
	}
}

// newExplainParts builds the Redis client and the node client options of
// cfg for explanations.
func newExplainParts(cfg config.Config) (*explainParts, error) {
	opts, err := redisOptions(cfg)
	if err != nil {
		return nil, err
	}
	rc, err := redisclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("OBSERVERD_REDIS_URL: %w", err)
	}
	httpCfg, err := cfg.RatelimiterHTTP()
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	hc, err := httpclient.New(httpCfg, cfg.MaxHeaderBytes)
	if err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("%s: %w", httpConfigVars("RATELIMITER", cfg.RatelimiterHTTPConfigFile), err)
	}
	return &explainParts{
		redis:   rc,
		nodeOpt: rlclient.Options{HTTPClient: hc, MaxBodyBytes: cfg.MaxResponseBytes, Timeout: -1, Location: cfg.NodeTimezone},
	}, nil
}

// explainer is the Explainer of cfg asking nodes.
func (p *explainParts) explainer(cfg config.Config, nodes func() []explain.Node, hist explain.History, noHistory string) *explain.Explainer {
	return explain.New(explain.Config{
		Redis: p.redis, KeyPrefix: cfg.KeyPrefix, Nodes: nodes,
		DefaultLimit: cfg.DefaultLimit, DefaultWindow: cfg.DefaultWindow,
		FutureAfter: health.FutureAfter(cfg.Invariants), MaxNameBytes: cfg.MaxNameBytes,
		History: hist, NoHistory: noHistory,
	})
}

// storeNodes are the nodes of the current snapshot, by their names, for
// the daemon's explanations: every node it knows, configured, registered
// or answering, at its URL or at scheme://address.
func storeNodes(store *snapshot.Store, opts rlclient.Options, scheme string) func() []explain.Node {
	return func() []explain.Node {
		p := store.Load()
		if p == nil {
			return nil
		}
		var out []explain.Node
		for _, n := range p.Snapshot.Nodes {
			base := n.URL
			if base == "" && n.Address != "" {
				base = scheme + "://" + n.Address
			}
			if c, err := rlclient.New(base, opts); err == nil {
				out = append(out, explain.Node{Name: n.Name(), API: c})
			}
		}
		return out
	}
}

// configuredNodes are the configured nodes and, with discovery, the peers
// they list in /api/nodes (the registry), for `observerd explain`. A node
// is named by its id when the registry tells it, else by its address.
func configuredNodes(ctx context.Context, cfg config.Config, opts rlclient.Options) []explain.Node {
	var out []explain.Node
	at := map[string]int{} // lowercased address: index in out
	for _, u := range cfg.RatelimiterURLs {
		c, err := rlclient.New(u, opts)
		if err != nil {
			continue
		}
		if _, ok := at[strings.ToLower(c.Address())]; ok {
			continue
		}
		at[strings.ToLower(c.Address())] = len(out)
		out = append(out, explain.Node{Name: c.Address(), API: c})
	}
	if !cfg.RatelimiterDiscover {
		return out
	}
	for _, n := range out[:len(out):len(out)] {
		nctx, cancel := context.WithTimeout(ctx, explain.DefaultNodeTimeout)
		peers, err := n.API.(*rlclient.Client).Nodes(nctx)
		cancel()
		if err != nil {
			continue
		}
		for _, p := range peers {
			if p.Address == "" {
				continue
			}
			if i, ok := at[strings.ToLower(p.Address)]; ok {
				if p.ID != "" {
					out[i].Name = p.ID
				}
				continue
			}
			if c, err := rlclient.New(cfg.RatelimiterDiscoverScheme+"://"+p.Address, opts); err == nil {
				at[strings.ToLower(p.Address)] = len(out)
				out = append(out, explain.Node{Name: cmp.Or(p.ID, p.Address), API: c})
			}
		}
	}
	slices.SortFunc(out, func(a, b explain.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// runExplain is `observerd explain KEY [--json] [--observerd URL]`: args
// are the subcommand's own, args[0] "explain".
func runExplain(ctx context.Context, args, environ []string, stdout, stderr io.Writer, invs []health.Invariant) error {
	fs := flag.NewFlagSet("observerd explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	daemon := fs.String("observerd", "", "base URL of the running observerd, asked for the key's history (default http://127.0.0.1:<port of OBSERVERD_LISTEN_ADDR>)")
	fs.Usage = func() { _ = explainUsage(stdout, fs) }
	// The key may come before or after the flags.
	var key string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		key, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if key == "" && fs.NArg() > 0 {
		key, rest = fs.Arg(0), fs.Args()[1:]
		if err := fs.Parse(rest); err != nil {
			return err
		}
	}
	if key == "" || fs.NArg() > 0 {
		return errors.New("explain: want one KEY (observerd explain -h)")
	}
	cfg, err := config.LoadWith(environ, invs)
	if err != nil {
		return err
	}
	if *daemon == "" {
		*daemon = defaultDaemonURL(cfg.ListenAddr)
	}
	parts, err := newExplainParts(cfg)
	if err != nil {
		return err
	}
	defer parts.close()
	ctx, cancel := context.WithTimeout(ctx, explainTimeout)
	defer cancel()
	nodes := configuredNodes(ctx, cfg, parts.nodeOpt)
	x, err := parts.explainer(cfg, func() []explain.Node { return nodes }, nil, "").Explain(ctx, key)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	askHistory(ctx, *daemon, x)
	if *asJSON {
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return writeExplanation(stdout, x)
}

// defaultDaemonURL is the local observerd at the port of listen.
func defaultDaemonURL(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		port = "9750"
	}
	return "http://127.0.0.1:" + port
}

// askHistory fills x's history from the observerd at base, which keeps it:
// GET /keys/{key} by the published name.
func askHistory(ctx context.Context, base string, x *explain.Explanation) {
	noDaemon := fmt.Sprintf("no history: no observerd answering at %s (history is kept by the running daemon)", base)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+statuspage.KeyPath(x.Key), nil)
	if err != nil {
		x.HistoryError = noDaemon
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		x.HistoryError = noDaemon
		return
	}
	defer resp.Body.Close()
	var got explain.Explanation
	if resp.StatusCode != http.StatusOK {
		x.HistoryError = fmt.Sprintf("no history: observerd at %s answered %s", base, resp.Status)
		return
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&got); err != nil {
		x.HistoryError = fmt.Sprintf("no history: observerd at %s: %v", base, err)
		return
	}
	x.History, x.HistorySince, x.HistoryError = got.History, got.HistorySince, got.HistoryError
	if x.History == nil {
		x.History = []snapshot.KeyEvent{}
	}
}

func explainUsage(w io.Writer, fs *flag.FlagSet) error {
	if _, err := io.WriteString(w, explainHelp); err != nil {
		return err
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	return nil
}

const explainHelp = `Usage: observerd explain KEY [--json] [--observerd URL]

observerd explain reads one key, read-only (never a /check, never a write),
and says, from Redis now: its in-window count over its own window, its limit
and where it comes from (its override hash, or the nodes' default from
/api/limits, else OBSERVERD_DEFAULT_LIMIT/WINDOW), the window, remaining,
whether the next check passes and if not when, its TTL against its window,
how its entries spread over the window, allowed requests ever (its :seq
key), entries scored in the future; each node's view where its
/api/counters lists the key; and the key's history (blocked, over its limit,
named in a violation) from the running observerd, which keeps it.

KEY is the key without the prefix (OBSERVERD_KEY_PREFIX), its bytes as
given, at most 4096 bytes. A key whose sorted set does not exist is
explained (exists: false) and exits 0; a key that is not a sorted set, a
Redis that does not answer, or a bad setting exits 1. It reads the daemon's
configuration from the environment and takes at most 5 s.

`

// daemonExplain is GET /keys/{key}'s explainer: nil without the Redis
// source. Its Redis client is closed with the sources.
func daemonExplain(cfg config.Config, store *snapshot.Store, srcs *sources, hist *history.Store) (server.ExplainFunc, error) {
	if !cfg.Enabled(source.Redis) {
		return nil, nil
	}
	parts, err := newExplainParts(cfg)
	if err != nil {
		return nil, err
	}
	srcs.closers = append(srcs.closers, parts.close)
	var kept explain.History
	if hist.Enabled() {
		kept = hist
	}
	x := parts.explainer(cfg, storeNodes(store, parts.nodeOpt, cfg.RatelimiterDiscoverScheme), kept, "no history: OBSERVERD_HISTORY is 0")
	return x.Explain, nil
}
