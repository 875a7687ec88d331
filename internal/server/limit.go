package server

import (
	"net"
	"sync"
	"sync/atomic"
)

// LimitListener returns a listener that holds at most max connections of
// ln open at once: past it, Accept waits for one to close, and new
// connections wait in the kernel's queue. pressure, when not nil, is
// called with true once every slot is taken and with false once half are
// free again, so that the server can stop keeping idle connections open
// while clients wait.
func LimitListener(ln net.Listener, max int, pressure func(full bool)) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), done: make(chan struct{}), pressure: pressure}
}

type limitListener struct {
	net.Listener
	slots    chan struct{}
	done     chan struct{}
	once     sync.Once
	pressure func(full bool)
	full     atomic.Bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.setFull(true)
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(l.release)}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *limitListener) release() {
	<-l.slots
	if len(l.slots) <= cap(l.slots)/2 {
		l.setFull(false)
	}
}

// setFull records the state and tells pressure of a change. Calls race
// (a release during pressure(true) may free half the slots), so each
// caller applies the state until it sees it stable: the last state set is
// the last applied.
func (l *limitListener) setFull(full bool) {
	if l.full.Swap(full) == full || l.pressure == nil {
		return
	}
	for {
		l.pressure(full)
		now := l.full.Load()
		if now == full {
			return
		}
		full = now
	}
}

type limitConn struct {
	net.Conn
	release func() // once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
