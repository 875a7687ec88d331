package transport

import (
	"crypto/tls"
	"testing"
)

func TestNew(t *testing.T) {
	if got := New(0, nil); got.MaxResponseHeaderBytes != DefaultMaxHeaderBytes || got.TLSClientConfig != nil && got.TLSClientConfig.RootCAs != nil {
		t.Errorf("New(0, nil) = header bound %d, roots %v", got.MaxResponseHeaderBytes, got.TLSClientConfig.RootCAs)
	}
	own := &tls.Config{ServerName: "node"}
	got := New(1024, own)
	if got.MaxResponseHeaderBytes != 1024 || got.TLSClientConfig == own || got.TLSClientConfig.ServerName != "node" {
		t.Errorf("New(1024, own) = header bound %d, TLS %p (own %p)", got.MaxResponseHeaderBytes, got.TLSClientConfig, own)
	}
	if New(0, nil) == New(0, nil) {
		t.Error("two transports are one")
	}
}
