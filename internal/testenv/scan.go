package testenv

import (
	"context"
	"slices"
)

// ReplayPages wraps a SCAN step so that every real page is handed over
// twice, as SCAN may while Redis rehashes: the first answer's cursor points
// at a replay of the same page. Tests use it to prove de-duplication
// against a real server.
func ReplayPages[F ~func(context.Context, uint64) ([]string, uint64, error)](next F) F {
	const replay = ^uint64(0)
	var last []string
	var lastNext uint64
	return func(ctx context.Context, cursor uint64) ([]string, uint64, error) {
		if cursor == replay {
			return last, lastNext, nil
		}
		keys, n, err := next(ctx, cursor)
		if err != nil {
			return nil, 0, err
		}
		last, lastNext = slices.Clone(keys), n
		return keys, replay, nil
	}
}
