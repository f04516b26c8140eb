package kafka

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func samplesBy(p Partitioner, n int32, count int) []Sample {
	var out []Sample
	for i := range count {
		var id [16]byte
		copy(id[:], fmt.Sprintf("trace-%d", i))
		key := []byte(hex.EncodeToString(id[:]))
		out = append(out, Sample{Key: key, Partition: p.Partition(key, n)})
	}
	return out
}

func TestVerifyPartitioning(t *testing.T) {
	tests := []struct {
		name    string
		written Partitioner // nil samples when ""
		flag    Partitioner
		samples []Sample
		want    string // "" = no error; else a substring of the error
	}{
		{"sarama matches", SaramaCompat, SaramaCompat, nil, ""},
		{"murmur2 matches", Murmur2, Murmur2, nil, ""},
		{"written with murmur2", Murmur2, SaramaCompat, nil,
			"were written with murmur2: use --kafka-partitioner murmur2"},
		{"written with sarama", SaramaCompat, Murmur2, nil,
			"were written with sarama_compat: use --kafka-partitioner sarama_compat"},
		{"no key", "", SaramaCompat, []Sample{{Key: nil, Partition: 3}},
			"1 of 1 sampled records have no key: the writer must key records by trace id (the Collector's kafkaexporter: partition_traces_by_id: true)"},
		{"round robin", "", SaramaCompat, []Sample{{Key: []byte("5b8efff798038103d269b633813fc60c"), Partition: 0}},
			`1 of 1 sampled records are not where --kafka-partitioner sarama_compat puts them (key "5b8efff798038103d269b633813fc60c" in partition 0, expected 5), nor where any of sarama_compat, murmur2 does`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.samples
			if tc.written != "" {
				s = samplesBy(tc.written, 12, 200)
			}
			err := VerifyPartitioning("otlp_spans", 12, tc.flag, s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCheckPartitionCounts(t *testing.T) {
	if err := CheckPartitionCounts("s", 12, "s_links", 12); err != nil {
		t.Fatal(err)
	}
	err := CheckPartitionCounts("s", 12, "s_links", 6)
	want := `topic "s" has 12 partitions but links topic "s_links" has 6: they must be equal (recreate "s_links" with 12 partitions, or point --kafka-links-topic at one that has)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
