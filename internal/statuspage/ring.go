package statuspage

// ring is a bounded queue: push drops the oldest element once it holds
// capacity elements. It is not safe for concurrent use.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest element
	n     int
}

func newRing[T any](capacity int) ring[T] {
	return ring[T]{buf: make([]T, max(capacity, 1))}
}

// push appends v and reports whether the oldest element was dropped for it.
func (r *ring[T]) push(v T) (dropped bool) {
	if r.n == len(r.buf) {
		r.buf[r.start] = v
		r.start = (r.start + 1) % len(r.buf)
		return true
	}
	r.buf[(r.start+r.n)%len(r.buf)] = v
	r.n++
	return false
}

// len is the number of elements held.
func (r *ring[T]) len() int { return r.n }

// at is the i-th element, oldest first.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// dropFront removes the oldest element; the ring must not be empty.
func (r *ring[T]) dropFront() {
	var zero T
	r.buf[r.start] = zero
	r.start = (r.start + 1) % len(r.buf)
	r.n--
}

// dropWhile removes the oldest elements as long as old accepts them and
// returns how many it removed.
func (r *ring[T]) dropWhile(old func(T) bool) int {
	n := 0
	for r.n > 0 && old(r.at(0)) {
		r.dropFront()
		n++
	}
	return n
}

// all returns a copy of the elements, oldest first.
func (r *ring[T]) all() []T {
	out := make([]T, r.n)
	for i := range out {
		out[i] = r.at(i)
	}
	return out
}
