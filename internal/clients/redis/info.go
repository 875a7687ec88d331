package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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
		total.UsedMemory += info.UsedMemory
		total.ConnectedClients += info.ConnectedClients
		total.DBKeys += info.DBKeys
		total.Servers++
	}
	return total, nil
}

// ParseInfo reads the fields of Info from the text of INFO. Lines may end
// in CRLF or LF; unknown fields and sections are ignored and missing ones
// stay zero. A known field with a malformed value is an error, and so is
// text with none of the known fields.
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
			info.Version = value
		case name == "role":
			info.Role = value
		case name == "used_memory":
			info.UsedMemory, err = parseCount(value)
		case name == "connected_clients":
			info.ConnectedClients, err = parseCount(value)
		case isDBName(name):
			var keys int64
			keys, err = parseKeyspace(value)
			info.DBKeys += keys
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

func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("negative value %d", n)
	}
	return n, nil
}

// isDBName matches the keyspace section's db0, db1, ... names.
func isDBName(name string) bool {
	digits, ok := strings.CutPrefix(name, "db")
	if !ok || digits == "" {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseKeyspace reads keys= of a line such as
// "keys=12,expires=3,avg_ttl=0".
func parseKeyspace(value string) (int64, error) {
	for field := range strings.SplitSeq(value, ",") {
		if n, ok := strings.CutPrefix(field, "keys="); ok {
			return parseCount(n)
		}
	}
	return 0, fmt.Errorf("no keys= in %q", value)
}
