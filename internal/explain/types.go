package explain

import (
	"fmt"
	"time"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
)

// Where a limit or a window comes from.
const (
	SourceOverride = "override" // the key's ratelimit:limit:{key} hash
	SourceDefault  = "default"  // the nodes' default (or observerd's configured one)
)

// Explanation is one key explained, as `observerd explain --json` and
// GET /keys/{key} serve it; docs/design.md documents every field.
type Explanation struct {
	Key      string    `json:"key"`
	KeyBytes int       `json:"key_bytes"`
	Exists   bool      `json:"exists"`
	At       time.Time `json:"at"`

	Count           int64  `json:"count"`
	Limit           int64  `json:"limit"`
	LimitSource     string `json:"limit_source"`
	WindowMs        int64  `json:"window_ms"`
	WindowSource    string `json:"window_source"`
	DefaultsFrom    string `json:"defaults_from"`
	OverrideProblem string `json:"override_problem,omitempty"`
	Remaining       int64  `json:"remaining"`

	AllowedNext              bool       `json:"allowed_next"`
	RetryAfterMs             *int64     `json:"retry_after_ms"`
	RetryAt                  *time.Time `json:"retry_at"`
	ServiceRetryAfterSeconds *int64     `json:"service_retry_after_seconds"`

	TTLMs         *int64 `json:"ttl_ms"`
	TTLFitsWindow *bool  `json:"ttl_fits_window"`
	TTLCeilingMs  int64  `json:"ttl_ceiling_ms"`

	AllowedTotal        *int64   `json:"allowed_total"`
	FutureEntries       int64    `json:"future_entries"`
	FutureAfterMs       int64    `json:"future_after_ms"`
	EntriesTotal        int64    `json:"entries_total"`
	EntriesBeforeWindow int64    `json:"entries_before_window"`
	Spread              []Bucket `json:"spread"`

	Nodes        []NodeView          `json:"nodes"`
	History      []snapshot.KeyEvent `json:"history"`
	HistorySince *time.Time          `json:"history_since"`
	HistoryError string              `json:"history_error,omitempty"`

	Notes []string `json:"notes"`
}

// Bucket is how many in-window entries are scored in one slice of the
// window, [FromMs, ToMs) in ms relative to At (the last slice includes
// ToMs, which is FutureAfterMs).
type Bucket struct {
	FromMs  int64 `json:"from_ms"`
	ToMs    int64 `json:"to_ms"`
	Entries int64 `json:"entries"`
}

// NodeView is one node's view of the key from its /api/counters: null
// figures when the node does not list the key (Note says so) or did not
// answer (Error says why). Drift is the node's count minus Redis's.
type NodeView struct {
	Node  string `json:"node"`
	Count *int64 `json:"count"`
	Limit *int64 `json:"limit"`
	Drift *int64 `json:"drift"`
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

// notes says in words what a reader might misread in x.
func notes(x *Explanation, r *redisclient.KeyReading) []string {
	var out []string
	say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if !x.Exists {
		say("the key does not exist in Redis: no request was allowed within its TTL (or it was reset); the limit shown is the one its next check would meet")
	}
	if x.OverrideProblem != "" {
		say("its override hash is unreadable (%s): the default limit and window judge it", x.OverrideProblem)
	}
	if x.LimitSource == SourceOverride {
		say("the limit is the key's override; the original service's /check enforces only a limit the request carries or the node default (a quirk of the contract)")
	}
	switch {
	case x.Limit == 0:
		say("its limit is 0: every check is refused, now and later, so there is no retry time")
	case !x.AllowedNext && x.RetryAfterMs == nil:
		say("the key changed under every read of its oldest entries: the retry time is unknown; explain it again")
	case !x.AllowedNext && x.Count > x.Limit:
		say("it is %d over its limit: the next check passes once %d entries have left the window, at retry_at; the service's retry_after_seconds counts from the oldest entry only and says sooner", x.Count-x.Limit, x.Count-x.Limit+1)
	}
	if x.TTLFitsWindow != nil && !*x.TTLFitsWindow {
		if *x.TTLMs < 0 {
			say("the key has no TTL: it never expires (the contract sets ceil(window)+1 s on every allowed request)")
		} else {
			say("its TTL outlives its window: more than the contract's ceil(window)+1 s")
		}
	}
	if r.Total > r.InWindow {
		say("%d entries older than the window are still stored: the next check prunes them", r.Total-r.InWindow)
	}
	if x.FutureEntries > 0 {
		say("%d entries are scored more than %d ms after Redis's clock: a node's clock runs ahead (clock_skew)", x.FutureEntries, x.FutureAfterMs)
	}
	if out == nil {
		return []string{}
	}
	return out
}
