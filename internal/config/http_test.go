package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTPConfigFiles(t *testing.T) {
	const secret = "h77p-c0nfig-S3CRET"
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yml", "basic_auth:\n  username: observerd\n  password: "+secret+"\ntls_config:\n  ca_file: ca.crt\n")
	unknown := write("unknown.yml", "basic_auth:\n  username: observerd\n  passwrd: "+secret+"\n")
	twoAuths := write("two.yml", "basic_auth:\n  username: observerd\n  password: "+secret+"\nauthorization:\n  credentials: "+secret+"\n")
	notYAML := write("not.yml", "basic_auth: [\n")
	misplaced := write("misplaced.yml", "authorization: "+secret+"\n")
	tests := []loadCase{
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + good}},
		{give: []string{"OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE=" + good}},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + dir + "/absent"}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + unknown}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: " + unknown + ": yaml: unmarshal errors: line 3: field passwrd not found"},
		{give: []string{"OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE=" + twoAuths}, want: "OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE: " + twoAuths + ": at most one of basic_auth, oauth2 & authorization must be configured"},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + notYAML}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: " + notYAML + ": yaml: "},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + good, "OBSERVERD_PROMETHEUS_USERNAME=sre", "OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + good}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: not with OBSERVERD_PROMETHEUS_USERNAME: give its setting in the file"},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + good, "OBSERVERD_PROMETHEUS_TLS_CA_FILE=" + good}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: not with OBSERVERD_PROMETHEUS_TLS_CA_FILE"},
		{give: []string{"OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE=" + good, "OBSERVERD_RATELIMITER_TLS_CA_FILE=" + good}, want: "OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE: not with OBSERVERD_RATELIMITER_TLS_CA_FILE"},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + misplaced}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: " + misplaced + ": yaml: unmarshal errors: line 1: cannot unmarshal !!str a value into"},
		// A disabled source's settings are not checked.
		{give: []string{"OBSERVERD_SOURCES=redis", "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + unknown}},
	}
	checkLoads(t, tests, secret)
}

func TestHTTPConfigOfSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte("authorization:\n  credentials_file: token\nfollow_redirects: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.PrometheusHTTPConfigFile = file
	h, err := cfg.PrometheusHTTP()
	if err != nil || h.Authorization == nil || h.Authorization.CredentialsFile != filepath.Join(dir, "token") || h.FollowRedirects || !h.EnableHTTP2 {
		t.Errorf("PrometheusHTTP() from a file = %+v, %v; want the token file beside it, no redirects, HTTP/2", h, err)
	}

	cfg = Default()
	cfg.PrometheusUsername, cfg.PrometheusPasswordFile, cfg.PrometheusCAFile = "sre", "/pw", "/ca.crt"
	h, err = cfg.PrometheusHTTP()
	if err != nil || h.BasicAuth == nil || h.BasicAuth.Username != "sre" || h.BasicAuth.PasswordFile != "/pw" || h.TLSConfig.CAFile != "/ca.crt" || !h.FollowRedirects || !h.ProxyFromEnvironment {
		t.Errorf("PrometheusHTTP() of the shorthands = %+v, %v", h, err)
	}
	cfg.PrometheusUsername, cfg.PrometheusPasswordFile, cfg.PrometheusBearerTokenFile = "", "", "/token"
	if h, _ := cfg.PrometheusHTTP(); h.BasicAuth != nil || h.Authorization == nil || h.Authorization.Type != "Bearer" || h.Authorization.CredentialsFile != "/token" {
		t.Errorf("PrometheusHTTP() of a bearer token file = %+v", h)
	}

	cfg = Default()
	cfg.RatelimiterHTTPConfigFile = filepath.Join(dir, "absent")
	if _, err := cfg.RatelimiterHTTP(); err == nil || !strings.HasPrefix(err.Error(), "OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE: ") {
		t.Errorf("RatelimiterHTTP() of an absent file = %v, want an error naming the variable", err)
	}
}
