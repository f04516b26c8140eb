package pairing

// chunkBits sets the size of the chunks rings allocate lazily: memory grows
// with use up to the ring's capacity, never past it.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// ring is a fixed-capacity FIFO of T addressed by position (0..cap-1),
// with storage allocated in chunks on first use.
type ring[T any] struct {
	chunks  [][]T
	cap     uint32
	head, n uint32 // position of the oldest element, and the count
}

func newRing[T any](capacity int) ring[T] {
	return ring[T]{chunks: make([][]T, (capacity+chunkSize-1)/chunkSize), cap: uint32(capacity)}
}

// alloc allocates every chunk now.
func (r *ring[T]) alloc() {
	for c := range r.chunks {
		if r.chunks[c] == nil {
			r.chunks[c] = make([]T, min(chunkSize, int(r.cap)-c<<chunkBits))
		}
	}
}

func (r *ring[T]) at(pos uint32) *T { return &r.chunks[pos>>chunkBits][pos&chunkMask] }

func (r *ring[T]) full() bool { return r.n == r.cap }

// push appends an element and returns its position; the ring must not be full.
func (r *ring[T]) push() (uint32, *T) {
	pos := r.head + r.n
	if pos >= r.cap {
		pos -= r.cap
	}
	c := pos >> chunkBits
	if r.chunks[c] == nil {
		size := min(chunkSize, int(r.cap)-int(c)<<chunkBits)
		r.chunks[c] = make([]T, size)
	}
	r.n++
	return pos, r.at(pos)
}

// oldest returns the oldest element; the ring must not be empty.
func (r *ring[T]) oldest() (uint32, *T) { return r.head, r.at(r.head) }

// pop removes the oldest element, zeroing it so it retains nothing.
func (r *ring[T]) pop() {
	var zero T
	*r.at(r.head) = zero
	r.head++
	if r.head == r.cap {
		r.head = 0
	}
	r.n--
}

// bytes is the memory the ring holds, given the element size.
func (r *ring[T]) bytes(elem int) int {
	total := 0
	for _, c := range r.chunks {
		total += len(c) * elem
	}
	return total
}
