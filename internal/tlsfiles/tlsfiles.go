// Package tlsfiles loads the TLS settings of a client from PEM files: the
// certificate authorities a server is checked against and a client
// certificate, the same way for every source observerd talks to.
package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// maxPEMBytes bounds a certificate or key file: a PEM chain of a few
// certificates is a few kilobytes, so a larger file is the wrong file.
const maxPEMBytes = 1 << 20

// Files name the PEM files of a TLS client. Every field is optional, but
// CertFile and KeyFile go together.
type Files struct {
	// CAFile holds the certificates of the authorities that sign the
	// server's certificate; empty trusts the system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate (a chain, leaf
	// first) and its private key, for a server that asks for one.
	CertFile string
	KeyFile  string
}

// IsZero reports whether no file is named.
func (f Files) IsZero() bool { return f == Files{} }

// Config loads the files into a tls.Config, TLS 1.2 or later, with the
// ServerName left empty so that every server is checked by the name it is
// dialled by. The client certificate is read again whenever a server asks
// for it, and a changed one is used from then on; the CA file is read
// once. Each error names the file, never its contents.
func (f Files) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := readPEM(f.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.CertFile == "" && f.KeyFile == "":
		return cfg, nil
	case f.CertFile == "":
		return nil, fmt.Errorf("key file %s given without a certificate file", f.KeyFile)
	case f.KeyFile == "":
		return nil, fmt.Errorf("certificate file %s given without a key file", f.CertFile)
	}
	kp := &keyPair{certFile: f.CertFile, keyFile: f.KeyFile}
	if _, err := kp.load(); err != nil {
		return nil, err
	}
	// Read again at each handshake that asks for it, so that a certificate
	// renewed in place (a mounted Secret) is shown without a restart.
	cfg.GetClientCertificate = kp.get
	return cfg, nil
}

// keyPair is a client certificate read from its files, kept until the
// files change.
type keyPair struct {
	certFile, keyFile string

	mu      sync.Mutex
	certPEM []byte
	keyPEM  []byte
	pair    *tls.Certificate
}

// load reads both files and parses them when they differ from the last
// read; it returns the current pair.
func (k *keyPair) load() (*tls.Certificate, error) {
	certPEM, err := readPEM(k.certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM(k.keyFile)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && bytes.Equal(certPEM, k.certPEM) && bytes.Equal(keyPEM, k.keyPEM) {
		return k.pair, nil
	}
	// X509KeyPair's errors say what is wrong, never the key's bytes.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s with key file %s: %w", k.certFile, k.keyFile, err)
	}
	k.certPEM, k.keyPEM, k.pair = certPEM, keyPEM, &pair
	return k.pair, nil
}

// get is tls.Config.GetClientCertificate. Files caught half written, or
// gone, leave the last good pair in use; the next handshake reads them
// again.
func (k *keyPair) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	pair, err := k.load()
	if err != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.pair, nil
	}
	return pair, nil
}

var errTooLarge = errors.New("file too large")

func readPEM(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes, not a PEM file: %w", path, maxPEMBytes, errTooLarge)
	}
	return b, nil
}
