package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Shape of the seeded keyspace, the same as BenchmarkPollRedis's: counter
// i holds 1+i%7 members inside the window and i%3 older ones, expires in an
// hour (so that nothing expires during the run), and every other counter
// has its :seq key.
const (
	keyPrefix  = "ratelimit:"
	nodePrefix = "ratelimiter:nodes:"
	seedTTL    = 3600
	overrides  = 5
)

// counterKey is the full key of seeded counter i.
func counterKey(i int) string { return keyPrefix + "load:" + fmt.Sprintf("%07d", i) }

// seedExtras writes what a live cluster has besides counters: a few
// overrides and one registry entry.
func seedExtras(ctx context.Context, r *benchRedis) error {
	pipe := r.rc.Pipeline()
	for i := range overrides {
		pipe.HSet(ctx, keyPrefix+"limit:"+counterKey(i)[len(keyPrefix):], "limit", 5+i, "window_ms", 30000)
	}
	pipe.HSet(ctx, nodePrefix+"bench-1", "address", "127.0.0.1:1", "registered_at", "2026-01-01T00:00:00.000000")
	_, err := pipe.Exec(ctx)
	return err
}

// seedCounters writes counters from..to-1 over one connection, replies
// read as they come, the way redis-cli --pipe does.
func seedCounters(ctx context.Context, r *benchRedis, from, to int) error {
	now, err := r.serverTime(ctx)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	marker := "seed-done-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	replies := make(chan replyCount, 1)
	go func() { replies <- readReplies(bufio.NewReaderSize(conn, 1<<16), marker) }()
	w := bufio.NewWriterSize(conn, 1<<16)
	if _, err := w.Write(appendCommand(nil, "AUTH", r.password)); err != nil {
		return err
	}
	sent := int64(1)
	var buf []byte
	for i := from; i < to; i++ {
		buf = appendCounter(buf[:0], i, now)
		sent += countCommands(i)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if _, err := w.Write(appendCommand(nil, "ECHO", marker)); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	got := <-replies
	switch {
	case got.err != nil:
		return fmt.Errorf("seed counters %d..%d: %w", from, to, got.err)
	case got.n != sent:
		return fmt.Errorf("seed counters %d..%d: %d replies, want %d", from, to, got.n, sent)
	}
	return nil
}

// countCommands is how many commands appendCounter writes for counter i.
func countCommands(i int) int64 {
	if i%2 == 0 {
		return 3
	}
	return 2
}

// appendCounter appends ZADD, EXPIRE and, for even i, SET of the :seq key.
func appendCounter(buf []byte, i int, now int64) []byte {
	key := counterKey(i)
	in, old := 1+i%7, i%3
	args := make([]string, 0, 2+2*(in+old))
	args = append(args, "ZADD", key)
	for j := range in {
		s := now - 1000 + int64(j)
		args = append(args, strconv.FormatInt(s, 10), strconv.FormatInt(s, 10)+":"+strconv.Itoa(j))
	}
	for j := range old {
		s := now - 120_000 - int64(j)
		args = append(args, strconv.FormatInt(s, 10), strconv.FormatInt(s, 10)+":o"+strconv.Itoa(j))
	}
	buf = appendCommand(buf, args...)
	buf = appendCommand(buf, "EXPIRE", key, strconv.Itoa(seedTTL))
	if i%2 == 0 {
		buf = appendCommand(buf, "SET", key+":seq", strconv.Itoa(in+old))
	}
	return buf
}

// appendCommand appends one command in RESP.
func appendCommand(buf []byte, args ...string) []byte {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(a)), 10)
		buf = append(buf, '\r', '\n')
		buf = append(buf, a...)
		buf = append(buf, '\r', '\n')
	}
	return buf
}

// replyCount is what readReplies saw: the replies before the marker, and
// the first error reply or read error.
type replyCount struct {
	n   int64
	err error
}

// readReplies reads single-line replies until the bulk reply that echoes
// marker. Every seeding command answers an integer or a simple string.
func readReplies(br *bufio.Reader, marker string) replyCount {
	var rc replyCount
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if rc.err == nil {
				rc.err = err
			}
			return rc
		}
		switch line[0] {
		case '-':
			if rc.err == nil {
				rc.err = errors.New(string(bytes.TrimSpace(line)))
			}
		case '$':
			body, err := br.ReadSlice('\n')
			if err == nil && string(bytes.TrimSpace(body)) == marker {
				return rc
			}
		}
		rc.n++
	}
}
