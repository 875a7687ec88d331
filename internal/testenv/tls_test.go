package testenv

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"
)

func TestCAIssuesCertificatesThatVerify(t *testing.T) {
	ca := NewCA(t)
	srv := ca.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}), true)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      ca.Pool(),
		Certificates: []tls.Certificate{ca.Client(t, "alice").TLS(t)},
	}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET over TLS with the CA's certificates: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "alice" {
		t.Errorf("server saw client %q, want alice", body)
	}

	stranger := &http.Client{Transport: &http.Transport{}}
	defer stranger.CloseIdleConnections()
	if _, err := stranger.Get(srv.URL); err == nil {
		t.Error("a client without the CA trusted the server")
	}
}
