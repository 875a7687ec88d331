package main

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// probeMaxConnections bounds the connections of the probe listener
// (OBSERVERD_PROBE_ADDR). A kubelet opens one connection per probe and
// closes it, so a few are plenty; the bound keeps a crowd on this port
// from taking more of the process's file descriptors.
const probeMaxConnections = 32

// newProbeServer serves h, /healthz and /readyz alone, on the probe
// listener. Its bounds are short: a probe is one small GET answered from
// memory, and a kubelet gives up after its timeoutSeconds (1 s by
// default), so a connection that is slower than that is cut and its slot
// freed.
func newProbeServer(h http.Handler, logger *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       2 * time.Second,
		WriteTimeout:      2 * time.Second,
		IdleTimeout:       10 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          zap.NewStdLog(logger),
	}
}
