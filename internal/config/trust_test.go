package config

import (
	"os"
	"strings"
	"testing"
)

// TestErrorsHideURLCredentials gives every variable that holds a URL one
// that does not parse because of its password, and one that parses but is
// of the wrong kind: no message may quote the password.
func TestErrorsHideURLCredentials(t *testing.T) {
	const secret = "S3cret"
	vars := []string{"RATELIMITER_URLS", "REDIS_URL", "REDIS_WALK_URL", "PROMETHEUS_URL", "CORS_ORIGINS"}
	values := []string{
		"http://u:" + secret + "%zz@h:1",
		"redis://u:" + secret + "%zz@h:1",
		"ftp://u:" + secret + "@h:1",
		"http://u:" + secret + "@h:1/%zz",
		"u:" + secret + "@h:1",
	}
	for _, v := range vars {
		for _, value := range values {
			_, err := Load([]string{Prefix + v + "=" + value})
			if err == nil {
				continue // a valid URL of this variable's kind
			}
			if !strings.Contains(err.Error(), Prefix+v) {
				t.Errorf("%s=%s: error does not name the variable: %v", v, value, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s=%s: error leaks the password: %v", v, value, err)
			}
		}
	}
}

func TestUnknownVariableNamesTheClosest(t *testing.T) {
	tests := []struct {
		give string
		want string // "" when accepted
	}{
		{give: "OBSERVERD_POL_INTERVAL=1s", want: "OBSERVERD_POL_INTERVAL: not a known variable; did you mean OBSERVERD_POLL_INTERVAL?"},
		{give: "OBSERVERD_REDIS_PASWORD_FILE=/x", want: "did you mean OBSERVERD_REDIS_PASSWORD_FILE?"},
		{give: "OBSERVERD_TOPKEYS=5", want: "did you mean OBSERVERD_TOP_KEYS?"},
		{give: "OBSERVERD_ZZZZZZZZZZZZZZZZZZ=1", want: "OBSERVERD_ZZZZZZZZZZZZZZZZZZ: not a known variable (observerd -h lists them)"},
		// Kubernetes sets these in every pod of a namespace that has a
		// Service named observerd: they are not settings.
		{give: "OBSERVERD_SERVICE_HOST=10.0.0.1"},
		{give: "OBSERVERD_SERVICE_PORT=9750"},
		{give: "OBSERVERD_SERVICE_PORT_HTTP=9750"},
		{give: "OBSERVERD_PORT=tcp://10.0.0.1:9750"},
		{give: "OBSERVERD_PORT_9750_TCP=tcp://10.0.0.1:9750"},
		{give: "OBSERVERD_PORT_9750_TCP_ADDR=10.0.0.1"},
		{give: "OTHER_POL_INTERVAL=1s"},
	}
	for _, tt := range tests {
		_, err := Load([]string{tt.give})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Load(%q) = %v, want it accepted", tt.give, err)
		case tt.want != "" && err == nil:
			t.Errorf("Load(%q) succeeded, want %q", tt.give, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("Load(%q) = %v, want it to contain %q", tt.give, err, tt.want)
		}
	}
}

// TestLoadReportsParseAndValueErrorsTogether: a value that does not parse
// does not hide the others' problems, and is reported once, not also as
// the zero value it was left at.
func TestLoadReportsParseAndValueErrorsTogether(t *testing.T) {
	got := loadError(t, []string{"OBSERVERD_TOP_KEYS=many", "OBSERVERD_LOG_LEVEL=loud", "OBSERVERD_POLL_INTERVAL=soon", "OBSERVERD_POL_TIMEOUT=1s"})
	want := []string{
		"config: OBSERVERD_POL_TIMEOUT: not a known variable; did you mean OBSERVERD_POLL_TIMEOUT?",
		`OBSERVERD_POLL_INTERVAL: unable to parse duration: time: invalid duration "soon"`,
		`OBSERVERD_TOP_KEYS: strconv.ParseInt: parsing "many": invalid syntax`,
		`OBSERVERD_LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
	}
	lines := strings.Split(got, "\n")
	if len(lines) != len(want) {
		t.Fatalf("Load reports %d problems, want %d:\n%s", len(lines), len(want), got)
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("problem %d = %q, want it to contain %q", i+1, lines[i], want[i])
		}
	}
}

func TestPollIntervalsHaveAFloor(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"OBSERVERD_POLL_INTERVAL=1ns", "OBSERVERD_POLL_INTERVAL: must be at least 100ms, got 1ns"},
		{"OBSERVERD_REDIS_POLL_INTERVAL=99ms", "OBSERVERD_REDIS_POLL_INTERVAL: must be at least 100ms, got 99ms"},
		{"OBSERVERD_RATELIMITER_POLL_INTERVAL=1us", "OBSERVERD_RATELIMITER_POLL_INTERVAL: must be at least 100ms, got 1µs"},
		{"OBSERVERD_PROMETHEUS_POLL_INTERVAL=50ms", "OBSERVERD_PROMETHEUS_POLL_INTERVAL: must be at least 100ms, got 50ms"},
		{"OBSERVERD_POLL_TIMEOUT=1ns", "OBSERVERD_POLL_TIMEOUT: must be at least 10ms, got 1ns"},
		{"OBSERVERD_REDIS_POLL_TIMEOUT=9ms", "OBSERVERD_REDIS_POLL_TIMEOUT: must be at least 10ms, got 9ms"},
		{"OBSERVERD_POLL_MAX_BACKOFF=1ms", "OBSERVERD_POLL_MAX_BACKOFF: must be at least 100ms, got 1ms"},
		{"OBSERVERD_POLL_INTERVAL=100ms", ""},
		{"OBSERVERD_REDIS_POLL_TIMEOUT=10ms", ""},
	}
	for _, tt := range tests {
		_, err := Load([]string{tt.give})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Load(%q) = %v, want it accepted", tt.give, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Load(%q) = %v, want %q", tt.give, err, tt.want)
		}
	}
}

func TestCredentialAndTLSFiles(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/present"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	webConfig := dir + "/web.yml"
	// bcrypt of "pw".
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  sre: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badWebConfig := dir + "/bad.yml"
	if err := os.WriteFile(badWebConfig, []byte("basic_auth_users: [not, a, map]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []loadCase{
		{give: []string{"OBSERVERD_REDIS_TLS_CERT_FILE=" + file}, want: "OBSERVERD_REDIS_TLS_CERT_FILE: set together with OBSERVERD_REDIS_TLS_KEY_FILE"},
		{give: []string{"OBSERVERD_REDIS_URL=rediss://r:6379", "OBSERVERD_REDIS_TLS_KEY_FILE=" + file}, want: "OBSERVERD_REDIS_TLS_CERT_FILE: set together with OBSERVERD_REDIS_TLS_KEY_FILE"},
		{give: []string{"OBSERVERD_REDIS_TLS_CA_FILE=" + file}, want: "OBSERVERD_REDIS_TLS_CA_FILE: TLS needs a rediss:// OBSERVERD_REDIS_URL"},
		{give: []string{"OBSERVERD_REDIS_URL=rediss://r:6379", "OBSERVERD_REDIS_TLS_CA_FILE=" + file}},
		{give: []string{"OBSERVERD_REDIS_URL=rediss://r:6379", "OBSERVERD_REDIS_TLS_CA_FILE=" + dir + "/absent"}, want: "OBSERVERD_REDIS_TLS_CA_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_REDIS_PASSWORD_FILE=" + dir + "/absent"}, want: "OBSERVERD_REDIS_PASSWORD_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_RATELIMITER_TLS_KEY_FILE=" + file}, want: "OBSERVERD_RATELIMITER_TLS_CERT_FILE: set together with OBSERVERD_RATELIMITER_TLS_KEY_FILE"},
		{give: []string{"OBSERVERD_RATELIMITER_TLS_CA_FILE=" + file}},
		{give: []string{"OBSERVERD_PROMETHEUS_TLS_CERT_FILE=" + file, "OBSERVERD_PROMETHEUS_TLS_KEY_FILE=" + file}},
		{give: []string{"OBSERVERD_PROMETHEUS_USERNAME=sre"}, want: "OBSERVERD_PROMETHEUS_PASSWORD_FILE: set together with OBSERVERD_PROMETHEUS_USERNAME"},
		{give: []string{"OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + file}, want: "OBSERVERD_PROMETHEUS_PASSWORD_FILE: set together with OBSERVERD_PROMETHEUS_USERNAME"},
		{give: []string{"OBSERVERD_PROMETHEUS_USERNAME=sre", "OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + file}},
		{give: []string{"OBSERVERD_PROMETHEUS_USERNAME=sre", "OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + file, "OBSERVERD_PROMETHEUS_BEARER_TOKEN_FILE=" + file}, want: "OBSERVERD_PROMETHEUS_BEARER_TOKEN_FILE: not with OBSERVERD_PROMETHEUS_USERNAME: Prometheus takes one kind of authorization"},
		{give: []string{"OBSERVERD_PROMETHEUS_BEARER_TOKEN_FILE=" + dir + "/absent"}, want: "OBSERVERD_PROMETHEUS_BEARER_TOKEN_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_WEB_CONFIG_FILE=" + webConfig}},
		{give: []string{"OBSERVERD_WEB_CONFIG_FILE=" + badWebConfig}, want: "OBSERVERD_WEB_CONFIG_FILE: " + badWebConfig + ": "},
		{give: []string{"OBSERVERD_WEB_CONFIG_FILE=" + dir + "/absent"}, want: "OBSERVERD_WEB_CONFIG_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_WEB_MAX_CONNECTIONS=0"}, want: "OBSERVERD_WEB_MAX_CONNECTIONS: must be at least 1, got 0"},
		{give: []string{"OBSERVERD_WEB_MAX_REQUESTS=0"}, want: "OBSERVERD_WEB_MAX_REQUESTS: must be at least 1, got 0"},
		{give: []string{"OBSERVERD_MAX_RESPONSE_HEADER_BYTES=1023"}, want: "OBSERVERD_MAX_RESPONSE_HEADER_BYTES: must be at least 1024, got 1023"},
		{give: []string{"OBSERVERD_MAX_NAME_BYTES=63"}, want: "OBSERVERD_MAX_NAME_BYTES: must be between 64 and 65536, got 63"},
		{give: []string{"OBSERVERD_MAX_NAME_BYTES=65536"}},
		// A disabled source's settings are not checked.
		{give: []string{"OBSERVERD_SOURCES=redis", "OBSERVERD_PROMETHEUS_USERNAME=sre"}},
	}
	checkLoads(t, tests, "")
}

// loadCase is one environment given to Load and the error text it must
// contain, "" when it must be accepted.
type loadCase struct {
	give []string
	want string
}

// checkLoads loads each case's environment and checks the outcome; when secret
// is not "", no error may show it.
func checkLoads(t *testing.T, cases []loadCase, secret string) {
	t.Helper()
	for _, tt := range cases {
		_, err := Load(tt.give)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Load(%q) = %v, want it accepted", tt.give, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Load(%q) = %v, want %q", tt.give, err, tt.want)
		case secret != "" && err != nil && strings.Contains(err.Error(), secret):
			t.Errorf("Load(%q) = %v, which shows the secret", tt.give, err)
		}
	}
}
