package snapshot

import "time"

// SourceState is what a poller runner knows of its source after a poll:
// timing, failures, the last error and the last good section. The runner
// hands a fresh copy to the Store after every poll.
type SourceState struct {
	Source              string
	LastAttempt         time.Time // zero before the first poll ends
	LastSuccess         time.Time // zero before the first success
	Duration            time.Duration
	ConsecutiveFailures int
	FailuresTotal       uint64
	Err                 error   // the last poll's error; nil when it succeeded
	Section             Section // the last good section; nil before the first success
}
