package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// errorKind is the sentinel of an error's kind, nil for any other error.
func errorKind(err error) error {
	var (
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case goredis.IsAuthError(err):
		return ErrAuth
	case goredis.IsPermissionError(err), isScriptPermissionError(err):
		return ErrNoPermission
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return ErrTLSVerify
	case errors.As(err, &header), strings.Contains(err.Error(), "remote error: tls: "):
		// A remote alert has no exported type: the server refused the
		// handshake, most often for want of a client certificate.
		return ErrTLSHandshake
	}
	return nil
}

// isScriptPermissionError reports the error of a script whose call the
// user's ACL refuses: Redis 7 answers it with ERR, not NOPERM.
func isScriptPermissionError(err error) bool {
	rErr, ok := errors.AsType[goredis.Error](err)
	return ok && strings.Contains(rErr.Error(), "user executing the script can't run this command")
}
