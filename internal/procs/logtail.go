package procs

import (
	"bytes"
	"io"
	"os"
	"strings"
)

// TailLines is how much of a log Alive shows, and the demo when one of its
// processes dies.
const TailLines = 10

// tailWindow is how much of a log's end LogTail reads: a goroutine dump of
// observerd is a few tens of KiB, and the crash line starts it.
const tailWindow = 256 << 10

// LogTail is the last n lines of the file at path, or "" when it cannot be
// read or holds only blanks. When those lines are the end of a Go crash (a
// goroutine dump), the n lines from where the crash starts are returned
// instead: they say why.
func LogTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > tailWindow {
		_, _ = f.Seek(st.Size()-tailWindow, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	from := max(0, len(lines)-n)
	if crash := crashStart(lines); crash >= 0 {
		from = crash
	}
	return strings.Join(lines[from:min(len(lines), from+n)], "\n") + "\n"
}

// crashStart is the index of the line where the last Go crash in lines
// starts ("panic: ...", "fatal error: ...", "SIGSEGV: ..."), or -1.
func crashStart(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		sig, _, _ := strings.Cut(l, ": ")
		isSig := len(sig) > 3 && strings.HasPrefix(sig, "SIG") && strings.ToUpper(sig) == sig && !strings.Contains(sig, " ")
		if isSig || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return i
		}
	}
	return -1
}
