package procs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// OpenFDs is the number of file descriptors pid has open, from
// /proc/PID/fd.
func OpenFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("open fds of %d: %w", pid, err)
	}
	return len(entries), nil
}

// RSS is the resident set size of pid in bytes, VmRSS of /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %w", pid, err)
	}
	// The kernel writes "VmRSS:	   12345 kB", never on the first line.
	_, rest, ok := strings.Cut(string(b), "\nVmRSS:")
	if !ok {
		return 0, fmt.Errorf("rss of %d: no VmRSS line", pid)
	}
	line, _, _ := strings.Cut(rest, "\n")
	kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(line), " kB"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %q: %w", pid, line, err)
	}
	return kb << 10, nil
}

// TCPLocalPorts are the local ports of pid's own IPv4 TCP sockets: the
// socket inodes among its descriptors in /proc/PID/fd, looked up in
// /proc/PID/net/tcp (which lists every socket of its network namespace).
// A client's local port is what the server sees as the client's address.
func TCPLocalPorts(pid int) (map[int]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sockets of %d: %w", pid, err)
	}
	inodes := make(map[string]bool, len(entries))
	for _, e := range entries {
		// A descriptor may close between the listing and the link: skip it.
		link, err := os.Readlink(dir + "/" + e.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return nil, fmt.Errorf("sockets of %d: %w", pid, err)
	}
	return portsOf(string(table), inodes), nil
}

// portsOf reads the local ports of the sockets with the given inodes from
// a /proc/net/tcp table, whose columns are: sl local_address rem_address st
// tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode, addresses
// written as hex ADDR:PORT.
func portsOf(table string, inodes map[string]bool) map[int]bool {
	ports := map[int]bool{}
	lines := strings.Split(table, "\n")
	for _, line := range lines[min(1, len(lines)):] {
		f := strings.Fields(line)
		if len(f) < 10 || !inodes[f[9]] {
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
			ports[int(p)] = true
		}
	}
	return ports
}
