//go:build !unix

package graph_test

import "time"

// processCPU is not measured here: cpu-ns figures read 0.
func processCPU() time.Duration { return 0 }
