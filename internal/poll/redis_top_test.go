package poll

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// tieKeys is how many keys the top tests hold at their limit, three times
// topTests' TopN.
const (
	tieKeys = 60
	tieTopN = 20
)

func tieKey(j int) string { return fmt.Sprintf("tie-%02d", j) }

// seedTies writes tieKeys keys, each with testLimit members inside the
// window: all at their limit.
func seedTies(t *testing.T, rc *goredis.Client) {
	t.Helper()
	for j := range tieKeys {
		seedRecent(t, rc, tieKey(j), testLimit, 0)
	}
}

// flicker does what a load at the limit does between two walks: a member
// of some keys leaves the window (the key is at limit-1 until the next
// request) while the others' are back. Round r takes the member new0 from
// every third key, another third each round.
func flicker(t *testing.T, rc *goredis.Client, r int) {
	t.Helper()
	ctx := t.Context()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	pipe := rc.Pipeline()
	for j := range tieKeys {
		key := "ratelimit:" + tieKey(j)
		if (j+r)%3 == 0 {
			pipe.ZRem(ctx, key, "new0")
			continue
		}
		pipe.ZAdd(ctx, key, goredis.Z{Score: float64(now.UnixMilli() - 100), Member: "new0"})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("flicker round %d: %v", r, err)
	}
}

func topKeys(sec *snapshot.RedisSection) []string {
	keys := make([]string, len(sec.Counters.Top))
	for i, k := range sec.Counters.Top {
		keys[i] = k.Key
	}
	return keys
}

// TestRedisTopStableUnderTies: 60 keys at their limit, a third of them one
// below it at each walk, as under a load at the limit. Every walk ranks
// them anew; the published top must stay the same 20 keys, for the walker
// and for the observer reading its shared walk, and after the lease
// changes hands, or every walk would export new key series.
func TestRedisTopStableUnderTies(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedTies(t, rc)
	observer := func(id string) *RedisPoller {
		return newTestRedisPoller(t, RedisConfig{
			Client: newRedisTestClient(t, srv.URL, nil), TopN: tieTopN,
			InstanceID: id, Coordinate: true, LeaseTTL: time.Minute, Logger: zaptest.NewLogger(t),
		})
	}
	walker, reader := observer("obs-1"), observer("obs-2")
	const rounds = 10
	distinct := map[string]bool{}
	var last []string
	for r := range rounds {
		flicker(t, rc, r)
		w, err := pollRedis(t, walker)
		if err != nil {
			t.Fatalf("round %d: the walker's poll: %v", r, err)
		}
		o, err := pollRedis(t, reader)
		if err != nil {
			t.Fatalf("round %d: the reader's poll: %v", r, err)
		}
		if o.Counters.WalkedBy != "obs-1" || topOf(o) != topOf(w) {
			t.Errorf("round %d: the reader publishes %q walked by %s, the walker %q", r, topOf(o), o.Counters.WalkedBy, topOf(w))
		}
		if len(w.Counters.Top) != tieTopN {
			t.Errorf("round %d: %d top keys, want %d", r, len(w.Counters.Top), tieTopN)
		}
		last = topKeys(w)
		for _, k := range last {
			distinct[k] = true
		}
	}
	t.Logf("%d distinct top keys over %d walks of %d keys at their limit, top %d", len(distinct), rounds, tieKeys, tieTopN)
	if len(distinct) != tieTopN {
		t.Errorf("%d distinct keys in the top over %d walks, want %d", len(distinct), rounds, tieTopN)
	}

	// The reader takes the lease over: its first walk keeps the top it read.
	if err := walker.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	flicker(t, rc, rounds)
	sec, err := pollRedis(t, reader)
	if err != nil || sec.Counters.WalkedBy != "obs-2" {
		t.Fatalf("after the walker's stop: err %v, walked by %q, want obs-2", err, sec.Counters.WalkedBy)
	}
	got, want := topKeys(sec), slices.Clone(last)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the new walker's top %q, want the shared one %q", got, want)
	}
}

// TestRedisTopKeyLeaves: a key of the top whose count falls stays in it
// for stickyWalks-1 more walks and leaves at the stickyWalks-th; a key that
// no longer exists leaves at once. A freed slot goes to the hottest
// newcomer; a newcomer hotter than the whole top waits for a key of it to
// be out for stickyWalks walks.
func TestRedisTopKeyLeaves(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	ctx := t.Context()
	seedTies(t, rc)
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil), TopN: tieTopN, Logger: zaptest.NewLogger(t)})
	top := make([]string, tieTopN)
	for j := range top {
		top[j] = tieKey(j)
	}
	// swap returns top with out replaced by in.
	swap := func(top []string, out, in string) []string {
		return append(slices.DeleteFunc(slices.Clone(top), func(k string) bool { return k == out }), in)
	}
	cooled := swap(swap(top, tieKey(7), "hot"), tieKey(5), tieKey(20))
	steps := []struct {
		name   string
		change func() error
		want   []string
	}{
		{name: "first walk", want: top},
		{name: "tie-05 cools down, tie-07 is deleted, hot appears", change: func() error {
			seedRecent(t, rc, "hot", 5*testLimit, 0)
			pipe := rc.Pipeline()
			pipe.ZRemRangeByRank(ctx, "ratelimit:"+tieKey(5), 0, testLimit-2)
			pipe.Del(ctx, "ratelimit:"+tieKey(7))
			_, err := pipe.Exec(ctx)
			return err
		}, want: swap(top, tieKey(7), "hot")},
		{name: "tie-05 out of the top a second time", want: swap(top, tieKey(7), "hot")},
		{name: "tie-05 out of the top a third time", want: cooled},
		{name: "tie-05 hotter than the top: a newcomer now", change: func() error {
			seedRecent(t, rc, tieKey(5), 2*testLimit, 0)
			return nil
		}, want: cooled},
		{name: "tie-20 out of the top a second time", want: cooled},
		{name: "tie-20 out of the top a third time", want: swap(cooled, tieKey(20), tieKey(5))},
	}
	for _, st := range steps {
		if st.change != nil {
			if err := st.change(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		sec, err := pollRedis(t, p)
		if err != nil {
			t.Fatalf("%s: Poll: %v", st.name, err)
		}
		got, want := topKeys(sec), slices.Clone(st.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: top %q, want %q", st.name, got, want)
		}
	}
}

func TestChooseTop(t *testing.T) {
	k := func(key string, count int64) snapshot.TopKey {
		return snapshot.TopKey{Key: key, Count: count, Limit: 10}
	}
	found := func(ks ...snapshot.TopKey) map[string]snapshot.TopKey {
		m := make(map[string]snapshot.TopKey, len(ks))
		for _, x := range ks {
			m[x.Key] = x
		}
		return m
	}
	tests := []struct {
		name       string
		giveN      int
		giveMisses map[string]int
		giveRanked []snapshot.TopKey
		giveFound  map[string]snapshot.TopKey
		want       string
		wantMisses map[string]int
	}{
		{
			name:       "first walk: the walk's own top",
			giveRanked: []snapshot.TopKey{k("a", 10), k("b", 3)},
			want:       "a=10 b=3", wantMisses: map[string]int{"a": 0, "b": 0},
		},
		{
			name:       "incumbents ahead of newcomers they tie or nearly tie with",
			giveMisses: map[string]int{"c": 0, "d": 0},
			giveRanked: []snapshot.TopKey{k("a", 10), k("b", 10)},
			giveFound:  found(k("c", 9), k("d", 10)),
			want:       "d=10 c=9", wantMisses: map[string]int{"c": 0, "d": 0},
		},
		{
			name:       "a hotter newcomer waits while the incumbent it outranks is out once",
			giveMisses: map[string]int{"c": 0, "d": 0},
			giveRanked: []snapshot.TopKey{k("a", 20), k("c", 10)},
			giveFound:  found(k("c", 10), k("d", 10)),
			want:       "c=10 d=10", wantMisses: map[string]int{"c": 0, "d": 1},
		},
		{
			name:       "out stickyWalks times in a row: the newcomer takes the slot",
			giveMisses: map[string]int{"c": 0, "d": stickyWalks - 1},
			giveRanked: []snapshot.TopKey{k("a", 20), k("c", 10)},
			giveFound:  found(k("c", 10), k("d", 10)),
			want:       "a=20 c=10", wantMisses: map[string]int{"a": 0, "c": 0},
		},
		{
			name:       "back in the top: its misses start again",
			giveMisses: map[string]int{"c": stickyWalks - 1, "d": 0},
			giveRanked: []snapshot.TopKey{k("c", 30), k("a", 10)},
			giveFound:  found(k("c", 30), k("d", 10)),
			want:       "c=30 d=10", wantMisses: map[string]int{"c": 0, "d": 0},
		},
		{
			name:       "an incumbent the walk did not find leaves at once",
			giveMisses: map[string]int{"c": 0, "d": 0},
			giveRanked: []snapshot.TopKey{k("c", 10), k("a", 5)},
			giveFound:  found(k("c", 10)),
			want:       "c=10 a=5", wantMisses: map[string]int{"a": 0, "c": 0},
		},
		{
			name:       "an incumbent a quarter behind ties, further behind it is out",
			giveN:      3,
			giveMisses: map[string]int{"c": 0, "d": 0},
			giveRanked: []snapshot.TopKey{k("a", 125), k("b", 124), k("c", 100)},
			giveFound:  found(k("c", 100), k("d", 99)),
			want:       "a=125 c=100 d=99", wantMisses: map[string]int{"c": 0, "d": 1, "a": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, misses := chooseTop(cmp.Or(tt.giveN, 2), tt.giveMisses, tt.giveRanked, tt.giveFound)
			var got []string
			for _, x := range top {
				got = append(got, fmt.Sprintf("%s=%d", x.Key, x.Count))
			}
			if strings.Join(got, " ") != tt.want || !maps.Equal(misses, tt.wantMisses) {
				t.Errorf("top %q, misses %v; want %q, %v", got, misses, tt.want, tt.wantMisses)
			}
		})
	}
}
