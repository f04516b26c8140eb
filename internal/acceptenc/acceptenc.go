// Package acceptenc reads the Accept-Encoding request header (RFC 9110
// 12.5.3) for the handlers that compress their answers: the /metrics
// handler and the API's read cache.
package acceptenc

import (
	"strconv"
	"strings"
)

// Gzip reports whether an Accept-Encoding header value accepts gzip (or
// any coding, "*") with a non-zero quality. The first gzip or * entry
// decides.
func Gzip(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
