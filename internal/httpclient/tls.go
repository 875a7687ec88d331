package httpclient

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"

	"github.com/prometheus/common/config"
)

// maxPEMBytes bounds a certificate or key file: a PEM chain of a few
// certificates is a few kilobytes, so a larger file is the wrong file, and
// must not be read whole.
const maxPEMBytes = 1 << 20

// TLSConfig returns the tls.Config of cfg, as config.NewTLSConfig makes it:
// the CA read once, and a client certificate read again at each handshake
// that asks for one, so that a certificate renewed in place (a mounted
// Secret) is shown without a restart. Files caught half written, or gone,
// keep the last good certificate in use rather than fail the handshake.
func TLSConfig(cfg config.TLSConfig) (*tls.Config, error) {
	for _, path := range []string{cfg.CAFile, cfg.CertFile, cfg.KeyFile} {
		if err := checkSize(path); err != nil {
			return nil, err
		}
	}
	c, err := config.NewTLSConfig(&cfg)
	if err != nil {
		return nil, err
	}
	if read := c.GetClientCertificate; read != nil {
		last := &lastGood{}
		c.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return last.keep(read(cri))
		}
	}
	return c, nil
}

// checkSize refuses a file larger than maxPEMBytes, or one that is not a
// file (a device), before the library reads it whole.
func checkSize(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxPEMBytes {
		return fmt.Errorf("%s is larger than %d bytes, not a PEM file", path, maxPEMBytes)
	}
	return nil
}

// lastGood is the last client certificate read whole.
type lastGood struct {
	mu   sync.Mutex // guards cert
	cert *tls.Certificate
}

// keep returns cert and remembers it, or the last good one when reading
// failed and there is one.
func (l *lastGood) keep(cert *tls.Certificate, err error) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.cert = cert
		return cert, nil
	}
	if l.cert != nil {
		return l.cert, nil
	}
	return nil, err
}
