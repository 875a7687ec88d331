package main

import (
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofWriteTimeout bounds one pprof answer: a CPU profile or trace runs
// for the seconds asked (30 by default), so it is longer than that.
const pprofWriteTimeout = 90 * time.Second

// newPprofServer serves the runtime profiles under /debug/pprof/ on a mux
// of its own. Profiling is off by default (OBSERVERD_PPROF_ADDR) and, when
// on, has a listener of its own, so that it is never exposed where
// /metrics is.
func newPprofServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      pprofWriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
