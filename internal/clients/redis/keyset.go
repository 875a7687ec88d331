package redis

// keySet is a set of 62-bit key hashes with two flags each, in one flat
// slice: 8 bytes a slot, linear probing, at most 3/4 full. It replaces a
// map over every key of a walk, which costs several times the memory and
// most of the client's time at a million keys. It lives for one walk.
type keySet struct {
	slots []uint64 // 0: empty; else hash&^flagMask | flags, with present set
	n     int
}

const (
	present  uint64 = 1 << iota // every used slot has it, so none is 0
	found                       // the key was counted as a sorted set
	flagMask = present | found
)

// minSlots is the smallest table; a walk of a few keys allocates 8 KiB.
const minSlots = 1 << 10

func newKeySet(hint int) *keySet {
	n := minSlots
	for n*3/4 < hint {
		n *= 2
	}
	return &keySet{slots: make([]uint64, n)}
}

// add inserts h and reports whether it was new.
func (s *keySet) add(h uint64) bool {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	i, ok := s.find(h)
	if ok {
		return false
	}
	s.slots[i] = h&^flagMask | present
	s.n++
	return true
}

// markFound flags h, which must be in the set, as a counted sorted set.
func (s *keySet) markFound(h uint64) {
	if i, ok := s.find(h); ok {
		s.slots[i] |= found
	}
}

// isFound reports whether h is in the set and counted as a sorted set.
func (s *keySet) isFound(h uint64) bool {
	i, ok := s.find(h)
	return ok && s.slots[i]&found != 0
}

// find returns h's slot and true, or the empty slot where it would go.
func (s *keySet) find(h uint64) (int, bool) {
	mask := len(s.slots) - 1
	want := h&^flagMask | present
	for i := int(h>>2) & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		switch {
		case v == 0:
			return i, false
		case v&^found == want:
			return i, true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := len(s.slots) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := int(v>>2) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = v
	}
}
