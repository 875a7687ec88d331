package testenv

import (
	"testing"
)

func TestRedisStopStart(t *testing.T) {
	r := StartRedis(t)
	if err := r.ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	r.Stop()
	if err := r.ping(); err == nil {
		t.Fatal("ping succeeded after Stop")
	}
	r.Start(t)
	if err := r.ping(); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPrometheusStarts(t *testing.T) {
	p := StartPrometheus(t, PrometheusConfig{Targets: []string{"127.0.0.1:1"}})
	p.Stop()
	p.Start(t)
}
