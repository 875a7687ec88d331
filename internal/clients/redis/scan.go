package redis

import (
	"context"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/semaphore"
)

// NoTTL is the TTL of a key that never expires (PTTL -1).
const NoTTL time.Duration = -1

// scanServer calls page for every SCAN page of the keys of one server that
// start with prefix, each SCAN in one of turns. SCAN, never KEYS: it does
// not block the server. A page may repeat keys of earlier pages; callers
// de-duplicate.
func (c *Client) scanServer(ctx context.Context, s *goredis.Client, prefix string, count int64, turns *semaphore.Weighted, page func(keys []string) error) error {
	addr := s.Options().Addr
	match := globEscape(prefix) + "*"
	var scan ScanFunc = func(ctx context.Context, cursor uint64) ([]string, uint64, error) {
		if err := turns.Acquire(ctx, 1); err != nil {
			return nil, 0, err
		}
		defer turns.Release(1)
		return s.Scan(ctx, cursor, match, count).Result()
	}
	if c.wrapScan != nil {
		scan = c.wrapScan(scan)
	}
	var cursor uint64
	for {
		// SCAN ends by itself; the context bounds a server that keeps
		// answering slowly.
		if err := ctx.Err(); err != nil {
			return c.wrap("SCAN", addr, err)
		}
		keys, next, err := scan(ctx, cursor)
		if err != nil {
			return c.wrap("SCAN", addr, err)
		}
		if err := page(keys); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ttlOf turns a PTTL answer into a TTL; ok is false when the key is gone.
func ttlOf(d time.Duration) (ttl time.Duration, ok bool) {
	switch d {
	case -2:
		return 0, false
	case -1:
		return NoTTL, true
	default:
		return d, true
	}
}

// isWrongType reports a command run against a key of another type.
func isWrongType(err error) bool {
	return goredis.HasErrorPrefix(err, "WRONGTYPE")
}

// chunks splits keys into slices of at most n.
func chunks(keys []string, n int) [][]string {
	var out [][]string
	for len(keys) > n {
		out = append(out, keys[:n:n])
		keys = keys[n:]
	}
	if len(keys) > 0 {
		out = append(out, keys)
	}
	return out
}
