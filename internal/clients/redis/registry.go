package redis

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/timestamp"
)

const (
	// maxMalformedSamples bounds the malformed overrides described one by one.
	maxMalformedSamples = 20
	// maxWindowMs keeps a window in milliseconds inside time.Duration.
	maxWindowMs = math.MaxInt64 / int64(time.Millisecond)
)

// RegistryEntry is one {prefix}{id} hash of the node registry.
type RegistryEntry struct {
	ID      string
	Address string
	// RegisteredAt is nil when the field is absent or does not parse;
	// RegisteredAtRaw keeps the text as written.
	RegisteredAt    *time.Time
	RegisteredAtRaw string
	// TTL is the time left before the entry expires, NoTTL if never.
	TTL time.Duration
}

// readRegistry reads the registry hashes keys of one server, in pipelined
// batches, unsorted. Entries that vanish while being read, or that are not
// hashes, are left out.
func (c *Client) readRegistry(ctx context.Context, s *goredis.Client, prefix string, keys []string) ([]RegistryEntry, error) {
	var out []RegistryEntry
	for _, batch := range chunks(keys, c.batch) {
		pipe := s.Pipeline()
		hashes := make([]*goredis.MapStringStringCmd, len(batch))
		ttls := make([]*goredis.DurationCmd, len(batch))
		for i, k := range batch {
			hashes[i] = pipe.HGetAll(ctx, k)
			ttls[i] = pipe.PTTL(ctx, k)
		}
		// Exec's error is the first failed command's; each command is
		// judged on its own below.
		_, _ = pipe.Exec(ctx)
		for i, k := range batch {
			fields, err := hashes[i].Result()
			if isWrongType(err) {
				continue
			}
			if err != nil {
				return nil, c.wrap("HGETALL", s.Options().Addr, err)
			}
			d, err := ttls[i].Result()
			if err != nil {
				return nil, c.wrap("PTTL", s.Options().Addr, err)
			}
			ttl, exists := ttlOf(d)
			if !exists || len(fields) == 0 {
				continue
			}
			out = append(out, c.registryEntry(strings.TrimPrefix(k, prefix), fields, ttl))
		}
	}
	return out, nil
}

func (c *Client) registryEntry(id string, fields map[string]string, ttl time.Duration) RegistryEntry {
	e := RegistryEntry{ID: id, Address: fields["address"], RegisteredAtRaw: fields["registered_at"], TTL: ttl}
	// Nodes write null as an empty or "None" value; neither is a time.
	if t, err := timestamp.Parse(e.RegisteredAtRaw, c.loc); err == nil {
		e.RegisteredAt = &t
	}
	return e
}

// Override is one {limitPrefix}{key} hash.
type Override struct {
	Key   string
	Limit int64
	// Window is zero when the hash has no window_ms: the default applies.
	Window time.Duration
}

// MalformedOverride is an override hash that could not be read.
type MalformedOverride struct {
	Key    string
	Reason string
}

// Overrides are the readable overrides, sorted by key, and what was wrong
// with the others.
type Overrides struct {
	Overrides []Override
	// Malformed counts every unreadable hash; MalformedSample describes the
	// first few by key.
	Malformed       int
	MalformedSample []MalformedOverride
}

// readOverrides reads the override hashes keys of one server into out, in
// pipelined batches, unsorted. A malformed hash (not a hash, a missing or
// non-integer limit, a negative value) is counted and skipped, never fatal.
func (c *Client) readOverrides(ctx context.Context, s *goredis.Client, limitPrefix string, keys []string, out *Overrides) error {
	for _, batch := range chunks(keys, c.batch) {
		pipe := s.Pipeline()
		hashes := make([]*goredis.MapStringStringCmd, len(batch))
		for i, k := range batch {
			hashes[i] = pipe.HGetAll(ctx, k)
		}
		_, _ = pipe.Exec(ctx)
		for i, k := range batch {
			key := strings.TrimPrefix(k, limitPrefix)
			fields, err := hashes[i].Result()
			switch {
			case isWrongType(err):
				out.malformed(key, "not a hash")
			case err != nil:
				return c.wrap("HGETALL", s.Options().Addr, err)
			case len(fields) == 0:
				// Deleted between SCAN and HGETALL.
			default:
				o, err := parseOverride(key, fields)
				if err != nil {
					out.malformed(key, err.Error())
					continue
				}
				out.Overrides = append(out.Overrides, o)
			}
		}
	}
	return nil
}

func (o *Overrides) sort() {
	slices.SortFunc(o.Overrides, func(a, b Override) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(o.MalformedSample, func(a, b MalformedOverride) int { return strings.Compare(a.Key, b.Key) })
}

func (o *Overrides) malformed(key, reason string) {
	o.Malformed++
	if len(o.MalformedSample) < maxMalformedSamples {
		o.MalformedSample = append(o.MalformedSample, MalformedOverride{Key: key, Reason: reason})
	}
}

func parseOverride(key string, fields map[string]string) (Override, error) {
	raw, ok := fields["limit"]
	if !ok {
		return Override{}, fmt.Errorf("no limit field")
	}
	limit, err := parseCount(raw)
	if err != nil {
		return Override{}, fmt.Errorf("limit %q: want a non-negative integer", raw)
	}
	o := Override{Key: key, Limit: limit}
	if raw, ok := fields["window_ms"]; ok && raw != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil || ms < 0 || ms > maxWindowMs {
			return Override{}, fmt.Errorf("window_ms %q: want a non-negative integer", raw)
		}
		o.Window = time.Duration(ms) * time.Millisecond
	}
	return o, nil
}
