package loadgen

import (
	"math/rand/v2"
	"strconv"
)

// keyGen picks the key of each request. It is used by the dispatching
// goroutine only, so it needs no lock.
type keyGen struct {
	rng *rand.Rand
	c   Config
}

func newKeyGen(c Config) *keyGen {
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &keyGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), c: c}
}

// next returns the key of the next request.
func (g *keyGen) next() string {
	c := g.c
	if c.HotKeys > 0 && c.HotShare > 0 && g.rng.Float64() < c.HotShare {
		return c.KeyPrefix + "hot-" + strconv.Itoa(g.rng.IntN(c.HotKeys))
	}
	if c.FreshKeys {
		return c.KeyPrefix + "fresh-" + strconv.FormatUint(g.rng.Uint64(), 16)
	}
	return c.KeyPrefix + "key-" + strconv.Itoa(g.rng.IntN(c.Keys))
}
