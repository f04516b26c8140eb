package pairing

// MaxSeconds is the one saturation rule for every duration pairing
// observes: a server or client span's duration and an async delay
// (messaging_system, span_link) count for at most MaxSeconds (one hour),
// and a negative delay (hosts' clocks disagree) counts 0. A span from 1970
// to now, or a producer's clock decades off, adds an hour to a latency
// sum, never 57 years. It fits the span index, which keeps durations in
// µs in a uint32 (at most 71.6 min), so both sides of a call saturate at
// the same figure. Every histogram bucket lies far below it.
const MaxSeconds = 3600

// maxMicros is MaxSeconds in µs, as the span index keeps durations.
const maxMicros = MaxSeconds * 1_000_000

// seconds is a duration or delay of ns nanoseconds as pairing observes it:
// in seconds, within [0, MaxSeconds].
func seconds(ns int64) float64 {
	return min(max(float64(ns)/1e9, 0), MaxSeconds)
}

// micros is a duration of ns nanoseconds as the span index keeps it: in
// µs, within [0, maxMicros], so that float64(micros(ns))/1e6 is
// seconds(ns) to the µs.
func micros(ns int64) uint32 {
	return uint32(min(max(ns/1000, 0), maxMicros))
}

// microsSeconds is a duration the span index keeps, in seconds.
func microsSeconds(us uint32) float64 { return float64(us) / 1e6 }
