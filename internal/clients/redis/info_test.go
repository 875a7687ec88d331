package redis

import (
	"errors"
	"strings"
	"testing"
)

const infoText = `# Server
redis_version:7.0.15
redis_mode:standalone
os:Linux 6.1.0 x86_64

# Clients
connected_clients:7
cluster_connections:0

# Memory
used_memory:1048576
used_memory_human:1.00M

# Replication
role:master
connected_slaves:0

# Keyspace
db0:keys=12,expires=3,avg_ttl=5000
db3:keys=30,expires=0,avg_ttl=0
`

func TestParseInfo(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    Info
		wantErr string
	}{
		{
			name: "full",
			give: infoText,
			want: Info{Version: "7.0.15", Role: "master", UsedMemory: 1048576, ConnectedClients: 7, DBKeys: 42},
		},
		{
			name: "crlf",
			give: strings.ReplaceAll(infoText, "\n", "\r\n"),
			want: Info{Version: "7.0.15", Role: "master", UsedMemory: 1048576, ConnectedClients: 7, DBKeys: 42},
		},
		{
			name: "empty keyspace and missing fields",
			give: "# Server\r\nredis_version:6.2.1\r\n# Keyspace\r\n",
			want: Info{Version: "6.2.1"},
		},
		{
			name: "replica",
			give: "role:slave\nmaster_host:10.0.0.1\n",
			want: Info{Role: "slave"},
		},
		{
			name: "db lines only",
			give: "db0:keys=1,expires=0,avg_ttl=0\ndb15:keys=2\n",
			want: Info{DBKeys: 3},
		},
		{
			name: "lookalike names are not db lines",
			give: "redis_version:7.2.0\ndbx:keys=5\ndb:keys=6\ndb1a:keys=7\n",
			want: Info{Version: "7.2.0"},
		},
		{name: "empty", give: "", wantErr: ErrNotInfo.Error()},
		{name: "garbage", give: "<html>\nnot redis\n</html>", wantErr: ErrNotInfo.Error()},
		{name: "unknown fields only", give: "foo:bar\n", wantErr: ErrNotInfo.Error()},
		{name: "bad memory", give: "used_memory:lots\n", wantErr: "used_memory"},
		{name: "negative clients", give: "connected_clients:-1\n", wantErr: "connected_clients"},
		{name: "db without keys", give: "db0:expires=1\n", wantErr: "db0"},
		{name: "db bad keys", give: "db0:keys=x,expires=1\n", wantErr: "db0"},
		{name: "negative memory", give: "used_memory:-1048576\n", wantErr: "used_memory: negative value"},
		{name: "memory beyond int64", give: "used_memory:9223372036854775808\n", wantErr: "used_memory"},
		{name: "keys summing beyond int64", give: "db0:keys=9223372036854775807\ndb1:keys=1\n", wantErr: "db1: sum of counts overflows int64"},
		{name: "version not printable", give: "redis_version:7.0\x00\x1b[2J\n", wantErr: "redis_version"},
		{name: "version not UTF-8", give: "redis_version:\xff\xfe\n", wantErr: "redis_version"},
		{name: "version too long", give: "redis_version:" + strings.Repeat("7", 65) + "\n", wantErr: "redis_version"},
		{name: "role of two words", give: "role:master slave\n", wantErr: "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfo(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseInfo error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInfo: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseInfo = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseInfoNotInfoIsSentinel(t *testing.T) {
	if _, err := ParseInfo("nothing"); !errors.Is(err, ErrNotInfo) {
		t.Fatalf("error = %v, want ErrNotInfo", err)
	}
}
