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

// waitReady waits until probe passes for c, failing at once with how c
// ended and the end of its log should it end first.
func waitReady(ctx context.Context, c *procs.Child, timeout time.Duration, probe func(context.Context) error) error {
	what := c.Name() + " to be ready (its log: " + c.LogPath() + ")"
	return procs.WaitFor(ctx, timeout, what, func() error {
		if err := c.Alive(); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		return probe(pctx)
	})
}

// httpOK answers nil when GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
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

// port returns preferred when it is free on 127.0.0.1, so that the printed
// URLs are the same from run to run, else any free port.
func port(preferred int) (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(preferred))
	if err != nil {
		return procs.FreePort()
	}
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("free port %d: %w", preferred, err)
	}
	return preferred, nil
}
