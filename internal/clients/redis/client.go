// Package redis inspects the rate limiter's Redis through go-redis: server
// info, the node registry, the per-key overrides and a walk over every
// counter key. It speaks Redis and nothing else; turning its answers into a
// snapshot is the poller's work.
package redis

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/observerd/observerd/internal/redact"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults of Options, and DefaultPoolSize, the connections per server:
// an unpaced walk's SCAN and pipelinesInFlight batches, and one to spare.
// They are an unpaced walk's: SCAN reads 1000 keys a call, since the scan
// is the walk's one sequence of round trips and shorter pages only make
// it longer; a pipeline of counts is read by Redis in slices of its input
// buffer, interleaved with other clients, so its size only sets how many
// round trips a walk takes. A paced walk, observerd's default, goes in
// steps of PacedStep keys instead.
const (
	DefaultPoolSize    = 6
	DefaultDialTimeout = 2 * time.Second
	DefaultReadTimeout = 3 * time.Second
	DefaultScanCount   = 1000
	DefaultBatchSize   = 500
)

// maxRetries is go-redis's retry budget per command: one, because the
// poller has its own deadline and backoff.
const maxRetries = 1

// ErrInvalidURL is returned by New for a URL that is not redis:// or
// rediss://. The message shows the URL with its password redacted.
var ErrInvalidURL = errors.New("invalid redis URL")

// The kinds of failure errors of a Client may wrap, for errors.Is: Redis
// refused the credentials (WRONGPASS, NOAUTH), the ACL refused a command
// (NOPERM), the server's certificate did not verify, or the TLS handshake
// failed otherwise (the server refused the client's certificate, or the
// peer does not speak TLS).
var (
	ErrAuth         = errors.New("authentication failed")
	ErrNoPermission = errors.New("not permitted by the ACL")
	ErrTLSVerify    = errors.New("TLS verification of the server's certificate failed")
	ErrTLSHandshake = errors.New("TLS handshake failed")
)

// ErrNoAddress is returned by New when neither a URL nor cluster addresses
// are given.
var ErrNoAddress = errors.New("no redis URL or cluster addresses")

// ScanFunc reads one SCAN page of one server: the keys and the next cursor
// (0 when the iteration is complete).
type ScanFunc func(ctx context.Context, cursor uint64) (keys []string, next uint64, err error)

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	// URL is redis://[user:password@]host:port[/db] or rediss://... for
	// TLS. With ClusterAddrs set, only its credentials and scheme are used.
	URL string
	// ClusterAddrs are seed host:port addresses; when set, Redis is a Redis
	// Cluster and every master is inspected.
	ClusterAddrs []string
	// Username, when set, is the ACL user to authenticate as; it overrides
	// the URL's user. Without one, Redis takes the password as the
	// default user's.
	Username string
	// Password, when set, overrides the URL's password (read from a file,
	// for instance).
	Password string
	// TLS forces TLS even for a redis:// URL; rediss:// implies it.
	TLS bool
	// TLSConfig, when set, is used for TLS (a private CA, a client
	// certificate). An empty ServerName is taken from the address dialled.
	TLSConfig *tls.Config
	// DialTimeout bounds connecting; ReadTimeout bounds each reply. The
	// caller's context deadline applies as well.
	DialTimeout time.Duration
	ReadTimeout time.Duration
	// Location is the time zone of registry timestamps written without an
	// offset (the nodes' local time); nil means UTC.
	Location *time.Location
	// ScanCount is the COUNT hint of every SCAN.
	ScanCount int
	// BatchSize is how many keys are looked at per pipelined round trip.
	BatchSize int
	// WrapScan, when set, wraps every SCAN loop's page reader. It is nil in
	// production; tests use it to make SCAN return a page again, as the
	// real SCAN may while the server rehashes.
	WrapScan func(next ScanFunc) ScanFunc
	// now, when set, is the servers' clock for every count instead of
	// TIME advanced by the local clock: tests set it to count at a
	// millisecond they choose. Nil outside this package's tests.
	now func() time.Time
}

// Client inspects one Redis server or one Redis Cluster. It is safe for
// concurrent use.
type Client struct {
	single   *goredis.Client        // nil in cluster mode
	cluster  *goredis.ClusterClient // nil outside cluster mode
	endpoint string                 // for error messages, never with a password
	password string                 // scrubbed from every error text
	opts     Options                // with the defaults filled in
	seed     maphash.Seed
	// lastWalkKeys sizes the next walk's set of seen keys; lastScanned,
	// the keys its SCAN returned, is what the next one expects.
	lastWalkKeys, lastScanned atomic.Int64
}

// New builds a Client. It does not connect: the first command does.
func New(opts Options) (*Client, error) {
	o := withDefaults(opts)
	c := &Client{opts: o, seed: maphash.MakeSeed()}
	base := &goredis.Options{}
	switch {
	case o.URL != "":
		var err error
		if base, err = parseURL(o.URL); err != nil {
			return nil, err
		}
	case len(o.ClusterAddrs) == 0:
		return nil, ErrNoAddress
	}
	base.Username = cmp.Or(o.Username, base.Username)
	base.Password = cmp.Or(o.Password, base.Password)
	c.password = base.Password
	if o.TLS || o.TLSConfig != nil || base.TLSConfig != nil {
		base.TLSConfig = tlsConfig(o, base)
	}
	if len(o.ClusterAddrs) > 0 {
		c.cluster = goredis.NewClusterClient(clusterOptions(o, base))
		c.endpoint = "cluster " + strings.Join(o.ClusterAddrs, ",")
		return c, nil
	}
	tune(base, o)
	c.single = goredis.NewClient(base)
	c.endpoint = base.Addr
	return c, nil
}

func withDefaults(o Options) Options {
	o.DialTimeout = positiveOr(o.DialTimeout, DefaultDialTimeout)
	o.ReadTimeout = positiveOr(o.ReadTimeout, DefaultReadTimeout)
	o.ScanCount = positiveOr(o.ScanCount, DefaultScanCount)
	o.BatchSize = positiveOr(o.BatchSize, DefaultBatchSize)
	o.Location = cmp.Or(o.Location, time.UTC)
	o.ClusterAddrs = slices.Clone(o.ClusterAddrs)
	return o
}

// positiveOr is v, or def when v is zero or negative.
func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// parseURL hides the parser's own error text: net/url quotes the offending
// part of the URL, which may be a piece of the password.
func parseURL(raw string) (*goredis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, fmt.Errorf("%w %q: want redis://host:port or rediss://host:port", ErrInvalidURL, redact.URL(raw))
	}
	o, err := goredis.ParseURL(raw)
	if err != nil {
		password, _ := u.User.Password()
		detail := fmt.Sprintf("%q: %s", redact.URL(raw), err)
		return nil, fmt.Errorf("%w %s", ErrInvalidURL, redact.Secrets(detail, password))
	}
	return o, nil
}

// Close releases every connection.
func (c *Client) Close() error {
	if c.cluster != nil {
		return c.cluster.Close()
	}
	return c.single.Close()
}

// Endpoint is the address the client talks to, for logs; it never holds a
// password.
func (c *Client) Endpoint() string { return c.endpoint }

// Cluster reports whether the client talks to a Redis Cluster.
func (c *Client) Cluster() bool { return c.cluster != nil }

// universal is the client that routes a key to its server.
func (c *Client) universal() goredis.UniversalClient {
	if c.cluster != nil {
		return c.cluster
	}
	return c.single
}

// servers returns the client of every server holding data: the one server,
// or every cluster master in address order, so that walks are sequential
// and deterministic.
func (c *Client) servers(ctx context.Context) ([]*goredis.Client, error) {
	if c.cluster == nil {
		return []*goredis.Client{c.single}, nil
	}
	var (
		mu      sync.Mutex // ForEachMaster calls back from one goroutine per master
		masters []*goredis.Client
	)
	err := c.cluster.ForEachMaster(ctx, func(_ context.Context, m *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, m)
		return nil
	})
	if err != nil {
		return nil, c.wrap("CLUSTER SLOTS", c.endpoint, err)
	}
	slices.SortFunc(masters, func(a, b *goredis.Client) int {
		return strings.Compare(a.Options().Addr, b.Options().Addr)
	})
	return masters, nil
}

// wrap names the command and the server, says in words what kind of
// failure a refused login or TLS handshake is, and removes the password
// from the error text should any layer below have quoted it.
func (c *Client) wrap(op, endpoint string, err error) error {
	if kind := errorKind(err); kind != nil {
		err = fmt.Errorf("redis %s %s: %w: %w", op, endpoint, kind, err)
	} else {
		err = fmt.Errorf("redis %s %s: %w", op, endpoint, err)
	}
	if c.password == "" || !strings.Contains(err.Error(), c.password) {
		return err
	}
	return &scrubbedError{msg: redact.Secrets(err.Error(), c.password), err: err}
}

// scrubbedError keeps errors.Is and errors.As working while its text hides
// the password.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
