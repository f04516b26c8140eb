// Package kafkatest holds what the Kafka tests of several packages do to
// kfake, the in-process brokers. Tests only.
package kafkatest

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RefuseCommits makes c's brokers refuse every offset commit (an error on
// each partition, OFFSET_METADATA_TOO_LARGE, which the client does not
// retry: the commit fails) until allow is called.
func RefuseCommits(c *kfake.Cluster) (allow func()) {
	var on atomic.Bool
	on.Store(true)
	c.ControlKey(int16(kmsg.OffsetCommit), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if !on.Load() {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		req := r.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version = req.Version
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.OffsetMetadataTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() { on.Store(false) }
}
