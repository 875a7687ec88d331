package testenv

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestRedisClusterServesEveryMaster starts a three-master cluster and
// writes one key to each master: the owner of the key's slot takes it, and
// every other master redirects the key to the owner, so all of them agree
// on who serves which slot. After Stop no master answers.
func TestRedisClusterServesEveryMaster(t *testing.T) {
	const masters = 3
	c := StartRedisCluster(t, masters)
	if len(c.Addrs) != masters || len(slices.Compact(slices.Sorted(slices.Values(c.Addrs)))) != masters {
		t.Fatalf("Addrs = %v, want %d distinct addresses", c.Addrs, masters)
	}
	for i, owner := range c.nodes {
		key, slot := keyOnMaster(t, owner, i, masters)
		if got, err := owner.do("SET", key, "v"+itoa(i)); err != nil || got != "OK" {
			t.Fatalf("SET %s on its owner %s = %q, %v", key, owner.Addr, got, err)
		}
		if got, err := owner.do("GET", key); err != nil || got != "v"+itoa(i) {
			t.Errorf("GET %s on its owner %s = %q, %v", key, owner.Addr, got, err)
		}
		want := fmt.Sprintf("MOVED %d %s", slot, owner.Addr)
		for j, other := range c.nodes {
			if j == i {
				continue
			}
			_, err := other.do("GET", key)
			var re redis.Error
			if !errors.As(err, &re) || re.Error() != want {
				t.Errorf("GET %s on %s: %v, want the reply -%s", key, other.Addr, err, want)
			}
		}
	}
	c.Stop()
	for _, n := range c.nodes {
		if err := n.ping(); err == nil {
			t.Errorf("%s answers PING after Stop", n.Addr)
		}
	}
}

// keyOnMaster finds a key whose slot master i of masters serves, asking
// the server to hash it.
func keyOnMaster(t *testing.T, n *Redis, i, masters int) (key string, slot int) {
	t.Helper()
	lo, hi := slotRange(i, masters)
	for k := range 1000 {
		key = "key-" + itoa(k)
		reply, err := n.do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
		}
		if slot, err = strconv.Atoi(reply); err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s answered %q", key, reply)
		}
		if slot >= lo && slot <= hi {
			return key, slot
		}
	}
	t.Fatalf("no key of 1000 hashes to slots %d-%d", lo, hi)
	return "", 0
}

// TestSlotRangeCoversEverySlot wants the masters' shares to cover the
// slots once each, in order, for any number of masters.
func TestSlotRangeCoversEverySlot(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7, 16} {
		next := 0
		for i := range n {
			lo, hi := slotRange(i, n)
			if lo != next || hi < lo {
				t.Errorf("%d masters: master %d has %d-%d, want it to start at %d", n, i, lo, hi, next)
			}
			next = hi + 1
		}
		if next != clusterSlots {
			t.Errorf("%d masters: the last slot served is %d, want %d", n, next-1, clusterSlots-1)
		}
	}
}

func TestParseClusterNodes(t *testing.T) {
	text := "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n" +
		"e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 5462\n"
	got, err := parseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []clusterNode{
		{id: "07c37dfeb235213a872192d90877d0cd55635b91", addr: "127.0.0.1:30004", flags: "slave"},
		{id: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", addr: "127.0.0.1:30001", flags: "master", myself: true, slots: "0-5460 5462"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseClusterNodes = %+v, want %+v", got, want)
	}
	if _, err := parseClusterNodes("abc 127.0.0.1:1@2 master"); err == nil {
		t.Error("a short line parsed")
	}
}
