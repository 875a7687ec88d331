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

// ErrNotInfo is returned by ParseInfo for text that holds none of the
// fields it reads.
var ErrNotInfo = errors.New("not an INFO answer")

// Info is what INFO says of a server, or of every cluster master together.
type Info struct {
	Version string
	Role    string
	// UsedMemory is in bytes.
	UsedMemory       int64
	ConnectedClients int64
	// DBKeys is the sum of keys= over the db lines of the keyspace section.
	DBKeys int64
	// Servers is how many servers were asked (the masters of a cluster).
	Servers int
}

// Ping sends PING to every server and returns the slowest round trip.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return 0, err
	}
	var slowest time.Duration
	for _, s := range servers {
		start := time.Now()
		if err := s.Ping(ctx).Err(); err != nil {
			return 0, c.wrap("PING", s.Options().Addr, err)
		}
		slowest = max(slowest, time.Since(start))
	}
	return slowest, nil
}

// Info reads INFO from every server. In a cluster, memory, clients and keys
// are summed over the masters; the version and role are those of the first
// master by address.
func (c *Client) Info(ctx context.Context) (Info, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return Info{}, err
	}
	var total Info
	for i, s := range servers {
		text, err := s.Info(ctx).Result()
		if err != nil {
			return Info{}, c.wrap("INFO", s.Options().Addr, err)
		}
		info, err := ParseInfo(text)
		if err != nil {
			return Info{}, c.wrap("INFO", s.Options().Addr, err)
		}
		if i == 0 {
			total.Version, total.Role = info.Version, info.Role
		}
		if err := total.add(info); err != nil {
			return Info{}, c.wrap("INFO", s.Options().Addr, err)
		}
		total.Servers++
	}
	return total, nil
}

// add sums o's counts into i.
func (i *Info) add(o Info) error {
	var err error
	if i.UsedMemory, err = addCount(i.UsedMemory, o.UsedMemory); err != nil {
		return fmt.Errorf("used_memory: %w", err)
	}
	if i.ConnectedClients, err = addCount(i.ConnectedClients, o.ConnectedClients); err != nil {
		return fmt.Errorf("connected_clients: %w", err)
	}
	if i.DBKeys, err = addCount(i.DBKeys, o.DBKeys); err != nil {
		return fmt.Errorf("keyspace: %w", err)
	}
	return nil
}

// errOverflow is a sum of counts beyond int64: no server holds that much.
var errOverflow = errors.New("sum of counts overflows int64")

// addCount adds two non-negative counts.
func addCount(a, b int64) (int64, error) {
	if a > math.MaxInt64-b {
		return 0, errOverflow
	}
	return a + b, nil
}

// maxInfoText bounds the version and role: both are a word, and they are
// published as they are.
const maxInfoText = 64

// ParseInfo reads the fields of Info from the text of INFO. Lines may end
// in CRLF or LF; unknown fields and sections are ignored and missing ones
// stay zero. A known field with a malformed value is an error: a count
// that is negative or not a decimal integer, keys that sum beyond int64,
// a version or role that is not a short printable word. So is text with
// none of the known fields.
func ParseInfo(text string) (Info, error) {
	var info Info
	known := 0
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var err error
		switch {
		case name == "redis_version":
			info.Version, err = parseWord(value)
		case name == "role":
			info.Role, err = parseWord(value)
		case name == "used_memory":
			info.UsedMemory, err = parseCount(value)
		case name == "connected_clients":
			info.ConnectedClients, err = parseCount(value)
		case isDBName(name):
			var keys int64
			if keys, err = parseKeyspace(value); err == nil {
				info.DBKeys, err = addCount(info.DBKeys, keys)
			}
		default:
			continue
		}
		if err != nil {
			return Info{}, fmt.Errorf("parse INFO field %s: %w", name, err)
		}
		known++
	}
	if known == 0 {
		return Info{}, ErrNotInfo
	}
	return info, nil
}

// parseWord accepts a short printable value without spaces.
func parseWord(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText(s, maxInfoText); err != nil {
		return "", fmt.Errorf("%s: %w", quoteCut(s), err)
	}
	if strings.ContainsAny(s, " \t") {
		return "", fmt.Errorf("%s: not one word", quoteCut(s))
	}
	return s, nil
}

func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		// ParseInt's error quotes the whole value.
		return 0, fmt.Errorf("%s: want a decimal integer", quoteCut(s))
	}
	if n < 0 {
		return 0, fmt.Errorf("negative value %d", n)
	}
	return n, nil
}

// isDBName matches the keyspace section's db0, db1, ... names.
func isDBName(name string) bool {
	digits, ok := strings.CutPrefix(name, "db")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// parseKeyspace reads keys= of a line such as
// "keys=12,expires=3,avg_ttl=0".
func parseKeyspace(value string) (int64, error) {
	for field := range strings.SplitSeq(value, ",") {
		if n, ok := strings.CutPrefix(field, "keys="); ok {
			return parseCount(n)
		}
	}
	return 0, fmt.Errorf("no keys= in %s", quoteCut(value))
}

// walkCommands are the commands a walk sends, whose time INFO
// commandstats keeps as cmdstat_<name>:calls=..,usec=..,...
var walkCommands = []string{"scan", "zcount", "pttl"}

// walkCommandTime reads the microseconds server s has spent in the walk's
// commands since its statistics were last reset; ok is false where INFO
// commandstats cannot be read (an ACL, a renamed command, a proxy), which
// is not an error: the walk's own round trips still measure it.
func (c *Client) walkCommandTime(ctx context.Context, s interface {
	Info(ctx context.Context, section ...string) *goredis.StringCmd
}) (usec int64, ok bool) {
	text, err := s.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, false
	}
	return commandTime(text, walkCommands)
}

// commandTime sums the usec of the named commands in INFO commandstats
// text; ok is false when the text has no commandstats line at all. A
// command never called has no line and counts zero.
func commandTime(text string, names []string) (usec int64, ok bool) {
	for line := range strings.Lines(text) {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !found {
			continue
		}
		ok = true
		name, fields, _ := strings.Cut(rest, ":")
		if !slices.Contains(names, strings.ToLower(name)) {
			continue
		}
		for f := range strings.SplitSeq(fields, ",") {
			if v, isUsec := strings.CutPrefix(f, "usec="); isUsec {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 || usec > math.MaxInt64-n {
					return 0, false
				}
				usec += n
			}
		}
	}
	return usec, ok
}
