package redis

import (
	"context"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// NoTTL is the TTL of a key that never expires (PTTL -1).
const NoTTL time.Duration = -1

// scan calls page for every SCAN page of one server's keys under the
// pass's prefixes, at the walk's pace. SCAN, never KEYS: it does not block
// the server. A page may repeat keys of earlier pages; page de-duplicates.
func (wk *walker) scan(ctx context.Context, s *goredis.Client, page func(keys []string) error) error {
	addr := s.Options().Addr
	for _, prefix := range scanPrefixes(wk.p.KeyPrefix, wk.p.NodePrefix) {
		match := globEscape(prefix) + "*"
		var scan ScanFunc = func(ctx context.Context, cursor uint64) ([]string, uint64, error) {
			return s.Scan(ctx, cursor, match, wk.scanCount).Result()
		}
		if wk.c.opts.WrapScan != nil {
			scan = wk.c.opts.WrapScan(scan)
		}
		for cursor := uint64(0); ; {
			// SCAN ends by itself; the context bounds a server that keeps
			// answering slowly.
			if err := ctx.Err(); err != nil {
				return wk.c.wrap("SCAN", addr, err)
			}
			sent := time.Now()
			keys, next, err := scan(ctx, cursor)
			if err != nil {
				return wk.c.wrap("SCAN", addr, err)
			}
			rtt := time.Since(sent)
			wk.mu.Lock()
			wk.stats.ScanCalls++
			wk.stats.ScannedKeys += int64(len(keys))
			wk.stats.Busy += rtt
			wk.mu.Unlock()
			if err := wk.rest(ctx, rtt, len(keys)); err != nil {
				return wk.c.wrap("SCAN", addr, err)
			}
			if err := page(keys); err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// scanPrefixes returns the SCAN MATCH prefixes of a pass: the beginning the
// two prefixes share, or each in turn when they share none.
func scanPrefixes(keyPrefix, nodePrefix string) []string {
	if nodePrefix == "" {
		return []string{keyPrefix}
	}
	n := 0
	for n < len(keyPrefix) && n < len(nodePrefix) && keyPrefix[n] == nodePrefix[n] {
		n++
	}
	if n == 0 {
		return []string{keyPrefix, nodePrefix}
	}
	return []string{keyPrefix[:n]}
}

// globEscape quotes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`, `\`, `\\`).Replace(s)
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
