package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// flooderEnv, set to KIND:N:ADDR, makes the test binary a flooder instead
// (see TestMain): it floods ADDR with N clients of KIND (idle, slowloris
// or snapshot) until its stdin closes, and reports its counts on stdout.
// The flood runs in a process of its own so that the probes of
// TestProbesUnderFlood are not scheduled among its goroutines, as a
// kubelet's are not.
const flooderEnv = "FLOODER"

// floodKinds are the clients a flooder can run.
var floodKinds = map[string]func(ctx context.Context, f *flood, addr string, n int){
	"idle":      idleFlood,
	"slowloris": slowlorisFlood,
	"snapshot":  snapshotFlood,
}

// flooder is a flooding process, as the test sees it.
type flooder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// counts are the last counts the flooder reported.
	connected, cut, answers atomic.Int64
	stderr                  *testenv.Buffer
	done                    chan struct{} // closed once stdout is read to its end
	stopOnce                sync.Once
	stopErr                 error
}

// startFlooder starts a flooder of n clients of kind against addr; it is
// stopped when the test ends, if not before.
func startFlooder(t *testing.T, kind, addr string, n int) *flooder {
	t.Helper()
	f := &flooder{stderr: &testenv.Buffer{}, done: make(chan struct{})}
	f.cmd = exec.Command(os.Args[0], "-test.run=^$")
	f.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%s", flooderEnv, kind, n, addr))
	f.cmd.Stderr = f.stderr
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start the flooder: %v", err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var connected, cut, answers int64
			if _, err := fmt.Sscanf(sc.Text(), "connected %d cut %d answers %d", &connected, &cut, &answers); err == nil {
				f.connected.Store(connected)
				f.cut.Store(cut)
				f.answers.Store(answers)
			}
		}
	}()
	t.Cleanup(func() {
		if err := f.stop(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// stop closes the flooder's stdin, which ends its flood and closes every
// connection, and waits for it to exit, at most 15 s; it returns the
// flood's failure, if any.
func (f *flooder) stop() error {
	f.stopOnce.Do(func() {
		f.stdin.Close()
		select {
		case <-f.done:
		case <-time.After(15 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
		if err := f.cmd.Wait(); err != nil {
			f.stopErr = fmt.Errorf("flooder: %v\n%s", err, tail(f.stderr.String(), 2000))
		}
	})
	return f.stopErr
}

// exited is the flooder's failure once it has ended before stop, nil
// while it runs.
func (f *flooder) exited() error {
	select {
	case <-f.done:
		return fmt.Errorf("the flooder ended: %v\n%s", f.stop(), tail(f.stderr.String(), 2000))
	default:
		return nil
	}
}

// runFlooder is the flooder process: it floods as spec (KIND:N:ADDR)
// says until stdin closes, writes its counts to stdout every 50 ms and
// once more at the end, and returns its exit code: 1 when a client failed
// otherwise than by the flood's end.
func runFlooder(spec string, stdin io.Reader, stdout, stderr io.Writer) int {
	kind, rest, _ := strings.Cut(spec, ":")
	ns, addr, _ := strings.Cut(rest, ":")
	n, err := strconv.Atoi(ns)
	start, ok := floodKinds[kind]
	if err != nil || !ok || addr == "" {
		fmt.Fprintf(stderr, "bad %s %q: want KIND:N:ADDR\n", flooderEnv, spec)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &flood{cancel: cancel}
	start(ctx, f, addr, n)
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	report := func() {
		fmt.Fprintf(stdout, "connected %d cut %d answers %d\n", f.connected.Load(), f.cut.Load(), f.answers.Load())
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-tick.C:
			report()
		case <-ctx.Done():
		}
	}
	f.stop()
	report()
	if err := f.failed(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// flood is a crowd of connections to one address, held until stop.
type flood struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// connected counts the connections open now; cut those observerd
	// closed while they were held (the slowloris's); answers the answers
	// read (the /snapshot crowd's).
	connected, cut, answers atomic.Int64
	mu                      sync.Mutex
	err                     error // the first failure that is not the flood's end
}

// stop ends every client, closing its connection, and waits for them.
func (f *flood) stop() {
	f.cancel()
	f.wg.Wait()
}

func (f *flood) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *flood) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// dial connects to addr until ctx ends: past the listener's accept queue,
// the kernel drops SYNs and a dial waits in its retries. ok is false when
// ctx ended or the dial failed (recorded).
func (f *flood) dial(ctx context.Context, addr string) (net.Conn, bool) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil {
			f.fail(fmt.Errorf("dial %s: %w", addr, err))
		}
		return nil, false
	}
	f.connected.Add(1)
	return c, true
}

// closeConn closes c, counted out of the open connections.
func (f *flood) closeConn(c net.Conn) {
	c.Close()
	f.connected.Add(-1)
}

// idleFlood opens n connections that send nothing, and holds them.
func idleFlood(ctx context.Context, f *flood, addr string, n int) {
	for range n {
		f.wg.Go(func() {
			c, ok := f.dial(ctx, addr)
			if !ok {
				return
			}
			<-ctx.Done()
			f.closeConn(c)
		})
	}
}

// slowlorisFlood opens n connections that each send a request header a
// byte every 500 ms (well within any idle read timeout), never ending it;
// a connection observerd cuts is opened again.
func slowlorisFlood(ctx context.Context, f *flood, addr string, n int) {
	const header = "GET /snapshot HTTP/1.1\r\nHost: observerd\r\nX-Slow: "
	for range n {
		f.wg.Go(func() {
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				c, ok := f.dial(ctx, addr)
				if !ok {
					return
				}
				for i := 0; ; i++ {
					b := byte('a')
					if i < len(header) {
						b = header[i]
					}
					if _, err := c.Write([]byte{b}); err != nil {
						f.cut.Add(1)
						break
					}
					select {
					case <-ctx.Done():
						f.closeConn(c)
						return
					case <-tick.C:
					}
				}
				f.closeConn(c)
			}
		})
	}
}

// snapshotFlood runs n clients that each ask GET /snapshot and read the
// answer in a loop, on one connection while observerd keeps it alive and
// on a new one when it closes it.
func snapshotFlood(ctx context.Context, f *flood, addr string, n int) {
	const request = "GET /snapshot HTTP/1.1\r\nHost: observerd\r\n\r\n"
	for range n {
		f.wg.Go(func() {
			for {
				c, ok := f.dial(ctx, addr)
				if !ok {
					return
				}
				// A client waiting for its answer when the flood ends
				// is unblocked by closing its connection.
				unwatch := context.AfterFunc(ctx, func() { c.Close() })
				br := bufio.NewReader(c)
				for {
					if _, err := io.WriteString(c, request); err != nil {
						break
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						break
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil {
						break
					}
					f.answers.Add(1)
					if resp.Close {
						break
					}
				}
				unwatch()
				f.closeConn(c)
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
}
