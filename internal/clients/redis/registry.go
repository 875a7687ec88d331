package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	// MaxMalformedSamples bounds the malformed hashes described one by one.
	MaxMalformedSamples = 20
	// maxWindowMs keeps a window in milliseconds inside time.Duration.
	maxWindowMs = math.MaxInt64 / int64(time.Millisecond)
	// maxLimit is the largest limit the rate limiter's decision script can
	// hold exactly: Lua numbers are doubles, so integers above 2^53 are
	// rounded there and compared wrongly.
	maxLimit = 1 << 53
)

// RegistryEntry is one {prefix}{id} hash of the node registry.
type RegistryEntry struct {
	ID      string
	Address string
	// RegisteredAt is nil when the field is absent, null, or withheld as
	// bad data; RegisteredAtRaw keeps the text as written, cleaned as a
	// published name is (names.Clean): at most maxRawBytes bytes.
	RegisteredAt    *time.Time
	RegisteredAtRaw string
	// TTL is the time left before the entry expires, NoTTL if never.
	TTL time.Duration
	// Problems say which fields were withheld as bad data and why: an
	// Address that is not host:port is left empty, a RegisteredAt that
	// does not parse or cannot be true is left nil. Nil when there are
	// none.
	Problems []string
}

// readRegistry reads the registry hashes keys of one server, in pipelined
// batches, unsorted. Entries that vanish while being read, or that are not
// hashes, are left out.
func (c *Client) readRegistry(ctx context.Context, s *goredis.Client, prefix string, keys []string, now time.Time, skipped *Skipped) ([]RegistryEntry, error) {
	var out []RegistryEntry
	for batch := range slices.Chunk(keys, c.opts.BatchSize) {
		pipe := s.Pipeline()
		hashes := make([]*goredis.MapStringStringCmd, len(batch))
		ttls := make([]*goredis.DurationCmd, len(batch))
		for i, k := range batch {
			hashes[i] = pipe.HGetAll(ctx, k)
			ttls[i] = pipe.PTTL(ctx, k)
		}
		// Exec's error is the first failed command's; each command's
		// reply is read on its own below.
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
			id := strings.TrimPrefix(k, prefix)
			e, err := ParseRegistryEntry(id, fields, c.opts.Location, now)
			if err != nil {
				addMalformed(&skipped.Count, &skipped.Sample, quoteCut(id), err.Error())
				continue
			}
			e.TTL = ttl
			out = append(out, e)
		}
	}
	return out, nil
}

// Override is one {limitPrefix}{key} hash.
type Override struct {
	Key   string
	Limit int64
	// Window is zero when the hash has no window_ms: the default applies.
	Window time.Duration
}

// Malformed is a hash left out as bad data, and why.
type Malformed struct {
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
	MalformedSample []Malformed
}

// Skipped counts the hashes left out as bad data; Sample describes the
// first few, sorted by key.
type Skipped struct {
	Count  int
	Sample []Malformed
}

// addMalformed counts a hash left out as bad data in count, and describes
// it in sample while sample is short.
func addMalformed(count *int, sample *[]Malformed, key, reason string) {
	*count++
	if len(*sample) < MaxMalformedSamples {
		*sample = append(*sample, Malformed{Key: key, Reason: reason})
	}
}

// readOverrides reads the override hashes keys of one server into out, in
// pipelined batches, unsorted. A malformed hash (not a hash, a missing or
// non-integer limit, a negative value) is counted and skipped, never fatal.
func (c *Client) readOverrides(ctx context.Context, s *goredis.Client, limitPrefix string, keys []string, out *Overrides) error {
	for batch := range slices.Chunk(keys, c.opts.BatchSize) {
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
				addMalformed(&out.Malformed, &out.MalformedSample, key, "not a hash")
			case err != nil:
				return c.wrap("HGETALL", s.Options().Addr, err)
			case len(fields) == 0:
				// Deleted between SCAN and HGETALL.
			default:
				o, err := ParseOverride(key, fields)
				if err != nil {
					addMalformed(&out.Malformed, &out.MalformedSample, key, err.Error())
					continue
				}
				out.Overrides = append(out.Overrides, o)
			}
		}
	}
	return nil
}

// ParseOverride reads one override hash of key (without prefix): limit is
// a decimal integer from 0 to 2^53, window_ms, when present and not empty,
// one from 1 to the longest time.Duration in milliseconds. Anything else
// is an error that says why, quoting at most a few dozen bytes of the
// value.
func ParseOverride(key string, fields map[string]string) (Override, error) {
	raw, ok := fields["limit"]
	if !ok {
		return Override{}, errors.New("no limit field")
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || limit < 0 || limit > maxLimit {
		return Override{}, fmt.Errorf("limit %s: want an integer from 0 to 2^53", quoteCut(raw))
	}
	o := Override{Key: key, Limit: limit}
	if raw, ok := fields["window_ms"]; ok && raw != "" {
		// A window of 0 counts nothing, so the key is never limited: it
		// is not the absent window that means the default.
		ms, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil || ms <= 0 || ms > maxWindowMs {
			return Override{}, fmt.Errorf("window_ms %s: want a positive integer of milliseconds", quoteCut(raw))
		}
		o.Window = time.Duration(ms) * time.Millisecond
	}
	return o, nil
}

// ReadOverrides reads every override under keyPrefix+"limit:" on every
// server, sorted by key: what a walk reads on its way, for an observer that
// knows none yet, so that its first walk counts each key by its own window
// rather than walking again once it has read them.
// count is each SCAN's COUNT: SCAN returns few keys, so a page costs Redis
// about the matching alone.
func (c *Client) ReadOverrides(ctx context.Context, keyPrefix string, count int64) (Overrides, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return Overrides{}, err
	}
	limitPrefix := keyPrefix + "limit:"
	var out Overrides
	for _, s := range servers {
		seen := map[string]struct{}{}
		var keys []string
		iter := s.Scan(ctx, 0, globEscape(limitPrefix)+"*", count).Iterator()
		for iter.Next(ctx) {
			if _, dup := seen[iter.Val()]; !dup {
				seen[iter.Val()] = struct{}{}
				keys = append(keys, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return Overrides{}, c.wrap("SCAN", s.Options().Addr, err)
		}
		if err := c.readOverrides(ctx, s, limitPrefix, keys, &out); err != nil {
			return Overrides{}, err
		}
	}
	slices.SortFunc(out.Overrides, func(a, b Override) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
