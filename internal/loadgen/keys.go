package loadgen

import (
	"math/rand/v2"
	"strconv"
)

// keyGen picks the key of each request. It is used by the dispatching
// goroutine only, so it needs no lock.
type keyGen struct {
	rng      *rand.Rand
	prefix   string
	hotShare float64
	hotKeys  int
	keys     int
	fresh    bool
}

func newKeyGen(c Config) *keyGen {
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &keyGen{
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		prefix:   c.KeyPrefix,
		hotShare: c.HotShare,
		hotKeys:  c.HotKeys,
		keys:     c.Keys,
		fresh:    c.FreshKeys,
	}
}

// next returns the key of the next request.
func (g *keyGen) next() string {
	if g.hotKeys > 0 && g.hotShare > 0 && g.rng.Float64() < g.hotShare {
		return g.prefix + "hot-" + strconv.Itoa(g.rng.IntN(g.hotKeys))
	}
	if g.fresh {
		return g.prefix + "fresh-" + strconv.FormatUint(g.rng.Uint64(), 16)
	}
	return g.prefix + "key-" + strconv.Itoa(g.rng.IntN(g.keys))
}
