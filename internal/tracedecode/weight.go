package tracedecode

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// MaxWeight bounds a span's sampling weight: a multiplier or threshold
// that would count one span as more than 2^20 is cut to it.
const MaxWeight = 1 << 20

// WithSpanMultiplier returns a copy of n that reads each span's sampling
// weight from the span attribute key (Tempo's span_multiplier_key), any
// key; "" reads none. The attribute's number (int, double, or a string of
// one) is rounded to a whole count, at least 1, at most MaxWeight.
func (n *Naming) WithSpanMultiplier(key string) *Naming {
	c := *n
	c.multiplier = key
	return &c
}

// weight returns a span's sampling weight from its multiplier attribute
// (v.value[slotMultiplier], when have), else from the OpenTelemetry
// threshold in its W3C tracestate (ot=th:…): 1 (encoded 0) when neither
// says otherwise.
func weight(have bool, multiplier, traceState string) uint32 {
	if have {
		if f, err := strconv.ParseFloat(strings.TrimSpace(multiplier), 64); err == nil {
			return clampWeight(f)
		}
	}
	if traceState != "" {
		return clampWeight(thresholdWeight(traceState))
	}
	return 0
}

// clampWeight rounds f to a whole count in [1, MaxWeight], 0 standing for
// 1 (the weight of an unsampled-aware span). NaN counts 1.
func clampWeight(f float64) uint32 {
	switch {
	case !(f >= 1.5): // NaN, or rounds to 1 or less
		return 0
	case f >= MaxWeight:
		return MaxWeight
	}
	return uint32(math.Round(f))
}

// thresholdWeight is the adjusted count of a span sampled with the
// rejection threshold in traceState's "ot" member ("th:" then 1 to 14 hex
// digits, zero-padded on the right to 56 bits): 2^56 / (2^56 − th), the
// inverse of the sampling probability (OpenTelemetry's consistent
// probability sampling, tracestate handling). 1 when there is no valid
// threshold.
func thresholdWeight(traceState string) float64 {
	for member := range strings.SplitSeq(traceState, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || key != "ot" {
			continue
		}
		for field := range strings.SplitSeq(value, ";") {
			hex, ok := strings.CutPrefix(field, "th:")
			if !ok {
				continue
			}
			if hex == "" || len(hex) > 14 {
				return 1
			}
			t, err := strconv.ParseUint(hex, 16, 64)
			if err != nil {
				return 1
			}
			t <<= 4 * (14 - len(hex))
			return float64(uint64(1)<<56) / float64(uint64(1)<<56-t)
		}
		return 1
	}
	return 1
}

// weightOf is weight over a pdata span.
func weightOf(attrs pcommon.Map, n *Naming, traceState string) uint32 {
	if n.multiplier != "" {
		if v, ok := attrs.Get(n.multiplier); ok {
			return weight(true, v.AsString(), traceState)
		}
	}
	return weight(false, "", traceState)
}

// weight is the weight of the span whose peer attributes p are.
func (p *peerAttrs) weight(traceState string) uint32 {
	i := slotMultiplier
	switch {
	case !p.have[i]:
		return weight(false, "", traceState)
	case p.isStr[i]:
		return weight(true, p.str[i], traceState)
	}
	return weight(true, valueString(p.kv[i]), traceState)
}
