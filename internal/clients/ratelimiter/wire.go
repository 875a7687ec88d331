package ratelimiter

type wireHealth struct {
	Status *string `json:"status"`
	NodeID *string `json:"node_id"`
}

type wireNodes struct {
	Nodes *[]wirePeer `json:"nodes"`
}

type wirePeer struct {
	ID           *string `json:"id"`
	Address      *string `json:"address"`
	State        *string `json:"state"`
	RegisteredAt *string `json:"registered_at"` // null or absent: unknown
}

type wireCounters struct {
	Counters *[]wireCounter `json:"counters"`
}

type wireCounter struct {
	Key       *string `json:"key"`
	Count     *int64  `json:"count"`
	Limit     *int64  `json:"limit"`
	Remaining *int64  `json:"remaining"`
}

type wireLimits struct {
	DefaultLimit    *int64 `json:"default_limit"`
	DefaultWindowMs *int64 `json:"default_window_ms"`
}

type wireBlocks struct {
	Blocked *[]wireBlock `json:"blocked"`
}

type wireBlock struct {
	Key          *string `json:"key"`
	CurrentCount *int64  `json:"current_count"`
	Limit        *int64  `json:"limit"`
}

type wireCheckRequest struct {
	Key      string `json:"key"`
	Limit    *int64 `json:"limit,omitempty"`
	WindowMs int64  `json:"window_ms,omitempty"`
}

type wireCheck struct {
	Allowed           *bool  `json:"allowed"`
	CurrentCount      *int64 `json:"current_count"`
	Remaining         *int64 `json:"remaining"`
	RetryAfterSeconds *int64 `json:"retry_after_seconds"`
}

type wireReset struct {
	Key   *string `json:"key"`
	Reset *bool   `json:"reset"`
}

type wireSetLimitRequest struct {
	Limit    int64 `json:"limit"`
	WindowMs int64 `json:"window_ms,omitempty"`
}

type wireLimitUpdate struct {
	Key      *string `json:"key"`
	Limit    *int64  `json:"limit"`
	WindowMs *int64  `json:"window_ms"`
	Updated  *bool   `json:"updated"`
}
