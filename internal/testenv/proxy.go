package testenv

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port in front of one upstream
// address, for faults of one client's link to a server that stays up for
// its other clients: Cut closes every connection it carries and, until
// Restore, closes each new one as soon as it is accepted. Each connection
// costs two goroutines, which end with it; Close ends them all.
type Proxy struct {
	// Addr is the proxy's host:port.
	Addr     string
	upstream string
	ln       net.Listener
	ctx      context.Context // ends with Close, and with it every dial
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex // guards what follows
	cut    bool
	closed bool
	links  map[*link]struct{}
}

// link is one connection through the proxy.
type link struct {
	client, server net.Conn // server is nil until dialled
}

// close closes both ends; closing an end twice is harmless.
func (l *link) close() {
	_ = l.client.Close()
	if l.server != nil {
		_ = l.server.Close()
	}
}

// StartProxy starts a proxy to upstream (host:port) on a free loopback
// port and closes it when the test ends.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	var ln net.Listener
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("proxy to %s: listen: %v", upstream, err)
		}
		// A port handed out to a server that is stopped now (and will
		// be started again on it) is not the proxy's to take.
		if handedOut.claim(l.Addr().(*net.TCPAddr).Port) {
			ln = l
			break
		}
		_ = l.Close()
	}
	if ln == nil {
		t.Fatalf("proxy to %s: every port offered was handed out before", upstream)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, ctx: ctx, cancel: cancel, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Cut closes every connection through the proxy, and every new one at
// once, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	links := p.takeLinks()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Restore lets new connections through again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops the proxy, closes every connection through it and waits for
// its goroutines. A second Close does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	links := p.takeLinks()
	p.mu.Unlock()
	p.cancel()
	_ = p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

// takeLinks empties the set of links and returns them; p.mu is held.
func (p *Proxy) takeLinks() []link {
	out := make([]link, 0, len(p.links))
	for l := range p.links {
		out = append(out, *l)
		delete(p.links, l)
	}
	return out
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors, say: try again shortly
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		if p.cut || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		l := &link{client: c}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.pipe(l)
	}
}

// pipe dials the upstream for l and copies both ways until either side
// closes, or the proxy closes l.
func (p *Proxy) pipe(l *link) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 5 * time.Second}
	server, err := d.DialContext(p.ctx, "tcp", p.upstream)
	p.mu.Lock()
	_, kept := p.links[l] // not cut or closed while dialling
	if err == nil && kept {
		l.server = server
	}
	p.mu.Unlock()
	if err != nil || !kept {
		if server != nil {
			_ = server.Close()
		}
		p.drop(l)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(server, l.client)
		p.drop(l)
	}()
	_, _ = io.Copy(l.client, server)
	p.drop(l)
	<-done
}

// drop forgets l and closes both its ends.
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	c := *l
	p.mu.Unlock()
	c.close()
}
