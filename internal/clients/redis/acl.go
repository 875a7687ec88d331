package redis

// MinimalACL is every permission observerd needs of a single Redis server,
// as the rules of ACL SETUSER (Redis 7.0 or later) after the user's name;
// the README shows the whole command. The rate limiter's counters,
// overrides and registry are read-only to it (%R~); it writes only its own
// walk lease and shared walk under observerd:. PING and INFO are the
// server's health, TIME its clock, SCAN, ZCOUNT, PTTL and HGETALL the walk
// and the counts; SET, GET, STRLEN and GETRANGE the lease and the shared
// walk, and EVALSHA (EVAL when the script is not cached yet) the lease's
// renew and release scripts, which call GET, PEXPIRE and DEL. Redis 6.2
// has no read-only patterns: use ~ for %R~ there.
const MinimalACL = "reset on resetchannels %R~ratelimit:* %R~ratelimiter:nodes:* ~observerd:* " +
	"+ping +info +time +scan +zcount +pttl +hgetall +get +set +strlen +getrange +eval +evalsha +pexpire +del"

// ClusterACL is what a Redis Cluster needs on top of MinimalACL, on every
// node: CLUSTER SLOTS, the slot map that finds the masters, and COMMAND,
// the command table go-redis reads to route each command by its keys
// (refused, it logs the refusal on every routed command and guesses).
const ClusterACL = "+cluster|slots +command"
