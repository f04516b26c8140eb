package acceptenc

import "testing"

func TestGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"":                      false,
		"identity":              false,
		"gzip":                  true,
		"GZIP":                  true,
		"br, gzip;q=0.5":        true,
		"gzip;q=0":              false,
		"gzip; q=0.0, identity": false,
		"*":                     true,
		"*;q=0":                 false,
		"deflate, br":           false,
		"gzip;q=bad":            true, // an unreadable quality is the default, 1
	} {
		if got := Gzip(v); got != want {
			t.Errorf("Gzip(%q) = %v, want %v", v, got, want)
		}
	}
}
