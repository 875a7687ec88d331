package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// probeTimeout bounds one readiness probe.
const probeTimeout = time.Second

// maxBody bounds the answers the demo reads: a snapshot of many keys is
// the largest.
const maxBody = 64 << 20

// get is the body of GET url; it fails unless the answer is 200.
func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return body, nil
}

// httpOK answers nil when GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := get(ctx, http.DefaultClient, url)
		return err
	}
}

// tcpOpen answers nil once something accepts connections on addr.
func tcpOpen(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// loopbackAddr is 127.0.0.1 with the preferred port when it is free, so
// that the printed URLs are the same from run to run, else with any free
// port.
func loopbackAddr(preferred int) (addr string, port int, err error) {
	port = preferred
	if l, lerr := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(preferred)); lerr != nil {
		if port, err = procs.FreePort(); err != nil {
			return "", 0, err
		}
	} else if err := l.Close(); err != nil {
		return "", 0, fmt.Errorf("free port %d: %w", preferred, err)
	}
	return "127.0.0.1:" + strconv.Itoa(port), port, nil
}
