package graph

import "math"

// Health grades an error rate, the same way in every picture the service
// draws (SVG colours, Grafana edge colours).
type Health uint8

// Health grades.
const (
	Healthy  Health = iota // error rate below 1%
	Degraded               // below 5%
	Failing                // 5% and above
)

// Error-rate thresholds of the grades.
const (
	DegradedErrorRate = 0.01
	FailingErrorRate  = 0.05
)

// HealthOf grades an error rate.
func HealthOf(errorRate float64) Health {
	switch {
	case errorRate >= FailingErrorRate:
		return Failing
	case errorRate >= DegradedErrorRate:
		return Degraded
	default:
		return Healthy
	}
}

// Volume places count on a log scale of the largest count in view, from 0
// (idle, or the only count) to 1 (the largest): edge width in pictures.
func Volume(count, maxCount uint64) float64 {
	if maxCount <= 1 || count == 0 {
		return 0
	}
	return math.Min(1, math.Log1p(float64(count))/math.Log1p(float64(maxCount)))
}
