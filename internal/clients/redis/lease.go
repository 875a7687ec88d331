package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A lease is a key whose value names its holder and whose TTL ends the
// holding unless the holder renews it: SET NX PX takes a free one, and
// renewing or releasing checks the holder first, in one script, so that an
// observer never extends or deletes a lease another has taken since.

var renewScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// AcquireLease takes the lease key for id when it is free, or renews it
// for ttl when id holds it already, and returns the holder: id, or the
// observer that holds it.
func (c *Client) AcquireLease(ctx context.Context, key, id string, ttl time.Duration) (string, error) {
	u := c.universal()
	ok, err := u.SetNX(ctx, key, id, ttl).Result()
	if err != nil {
		return "", c.wrap("SET NX", c.endpoint, err)
	}
	if ok {
		return id, nil
	}
	renewed, err := c.RenewLease(ctx, key, id, ttl)
	if err != nil || renewed {
		return id, err
	}
	holder, err := u.Get(ctx, key).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		// Released or expired just now: the next poll takes it.
		return "", nil
	case err != nil:
		return "", c.wrap("GET", c.endpoint, err)
	}
	return holder, nil
}

// RenewLease extends the lease for ttl if id holds it, and reports whether
// it did.
func (c *Client) RenewLease(ctx context.Context, key, id string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, c.universal(), []string{key}, id, ttl.Milliseconds()).Int()
	if err != nil {
		return false, c.wrap("EVALSHA renew", c.endpoint, err)
	}
	return n == 1, nil
}

// ReleaseLease deletes the lease if id holds it.
func (c *Client) ReleaseLease(ctx context.Context, key, id string) error {
	if err := releaseScript.Run(ctx, c.universal(), []string{key}, id).Err(); err != nil {
		return c.wrap("EVALSHA release", c.endpoint, err)
	}
	return nil
}

// PutValue writes value at key for ttl.
func (c *Client) PutValue(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.universal().Set(ctx, key, value, ttl).Err(); err != nil {
		return c.wrap("SET", c.endpoint, err)
	}
	return nil
}

// ErrValueTooLarge is returned by GetValue for a value over its bound.
var ErrValueTooLarge = errors.New("value too large")

// GetValue reads the string at key, at most maxBytes of it, and the
// server's clock at the read. A missing key is a nil value and no error;
// a longer value is ErrValueTooLarge, never read whole.
func (c *Client) GetValue(ctx context.Context, key string, maxBytes int64) ([]byte, time.Time, error) {
	pipe := c.universal().Pipeline()
	size := pipe.StrLen(ctx, key)
	head := pipe.GetRange(ctx, key, 0, maxBytes-1)
	now := pipe.Time(ctx)
	_, _ = pipe.Exec(ctx)
	for _, cmd := range []goredis.Cmder{size, head, now} {
		if err := cmd.Err(); err != nil {
			return nil, time.Time{}, c.wrap(cmd.Name(), c.endpoint, err)
		}
	}
	switch {
	case size.Val() == 0:
		return nil, now.Val(), nil
	case size.Val() > maxBytes:
		return nil, now.Val(), fmt.Errorf("redis GET %s: %d bytes, more than %d: %w", key, size.Val(), maxBytes, ErrValueTooLarge)
	}
	return []byte(head.Val()), now.Val(), nil
}
