package main

import (
	"slices"
	"time"
)

// median of ds; zero for none.
func median(ds []time.Duration) time.Duration {
	return percentile(ds, 50)
}

// percentile returns the nearest-rank p-th percentile of ds (p in 0..100);
// zero for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// timeRuns calls f n times and returns each call's duration; the first
// error stops it.
func timeRuns(n int, f func() error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			return out, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
