package kafka

import "testing"

// BenchmarkLinkRecord encodes and decodes one link record (fresh state,
// no I/O) and reports its size, which issue 14 bounds at 200 B.
func BenchmarkLinkRecord(b *testing.B) {
	l := testLink()
	buf := make([]byte, 0, 256)
	var got Link
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = l.AppendBinary(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		if err := DecodeLink(buf, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "B/record")
}
