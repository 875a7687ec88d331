package testenv

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HugeHeaders is a misbehaving HTTP peer: it answers 200 with body after
// n bytes of response headers, written raw on the hijacked connection so
// that the server side allocates nothing per header line.
func HugeHeaders(t testing.TB, n int, body string) http.HandlerFunc {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
	line := "X-Padding: " + strings.Repeat("p", 1000) + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
	raw := []byte(b.String())
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write(raw)
	}
}
