//go:build !unix

package pairing

import "time"

// ProcessCPU is not measured here: cpu-ns/span reads 0.
func ProcessCPU() time.Duration { return 0 }
