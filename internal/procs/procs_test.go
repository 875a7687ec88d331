package procs

import (
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

func TestPortsOf(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D432 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0000000000000000 20 4 30 10 -1
`
	tests := []struct {
		name string
		give map[string]bool
		want []int
	}{
		{"a listener and a client", map[string]bool{"111": true, "222": true}, []int{8080, 54321}},
		{"another process's sockets", map[string]bool{"999": true}, nil},
		{"no sockets", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(portsOf(table, tt.give)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("ports %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOwnFigures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid := os.Getpid()
	ports, err := TCPLocalPorts(pid)
	if err != nil {
		t.Fatal(err)
	}
	if port := l.Addr().(*net.TCPAddr).Port; !ports[port] {
		t.Errorf("local ports %v lack the listener's %d", ports, port)
	}
	if n, err := OpenFDs(pid); err != nil || n < 4 {
		t.Errorf("open fds %d, %v", n, err)
	}
	if rss, err := RSS(pid); err != nil || rss < 1<<20 {
		t.Errorf("rss %d, %v", rss, err)
	}
}

func TestChildLifecycle(t *testing.T) {
	sleep := testenv.LookBinary(t, "sleep", "coreutils")
	g := NewGroup(t.TempDir())
	defer g.StopAll()
	c, err := g.Start("sleeper", sleep, []string{"60"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Alive(); err != nil {
		t.Fatalf("alive: %v", err)
	}
	// Frozen, it still ends on Stop.
	if err := c.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !c.Exited() || time.Since(start) >= StopGrace {
		t.Errorf("a frozen child took %s to stop, exited %v", time.Since(start), c.Exited())
	}
	err = WaitFor(context.Background(), time.Minute, "the sleeper", c.Alive)
	if !errors.Is(err, ErrExited) {
		t.Errorf("WaitFor on an ended child: %v, want ErrExited", err)
	}
	if _, err := g.Start("again", sleep, []string{"60"}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(g.all); n != 1 {
		t.Errorf("the group tracks %d children after one ended and one started, want 1", n)
	}
}
