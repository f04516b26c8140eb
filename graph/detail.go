package graph

import (
	"maps"
	"strings"
)

// SetDetail gives topic node id a detail shown beside its kind: its
// messaging system (messaging.system, --broker-nodes); other kinds have
// none (a topic named like a service is the service). The latest non-empty
// detail wins; it is cut to MaxNameBytes, repaired to valid UTF-8 and
// copied. Details survive the state file, the peer wire form and the
// merge (the first non-empty wins there). Cheap when unchanged: callers
// still set it once per request and name, not per span.
func (s *Store) SetDetail(id NodeID, detail string) {
	if detail == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setDetail(id, detail)
}

// setDetail needs s.mu.
func (s *Store) setDetail(id NodeID, detail string) {
	if int(id) >= len(s.names) || s.kinds[id] != TopicNode || s.details[id] == detail {
		return
	}
	detail = s.cut(strings.ToValidUTF8(detail, "\uFFFD"))
	if s.details[id] == detail {
		return
	}
	if s.details == nil {
		s.details = map[NodeID]string{}
	}
	s.details[id] = strings.Clone(detail)
	s.nodesDirty = true
	s.version++
}

// cloneDetails copies the details for a snapshot build; it needs s.mu.
func (s *Store) cloneDetails() map[NodeID]string { return maps.Clone(s.details) }

// setDetails fills in the details of nodes, in b.nodeOrder's order (as
// nodes made them), of topics only. It needs b.mu.
func (b *builder) setDetails(nodes []Node, details map[NodeID]string) {
	if len(details) == 0 {
		return
	}
	for i, id := range b.nodeOrder {
		if nodes[i].Kind == TopicNode {
			nodes[i].Detail = details[id]
		}
	}
}

// Subtitle is the node's kind, with its detail when it has one: "topic
// (kafka)".
func (n *ViewNode) Subtitle() string {
	if n.Detail == "" {
		return n.Kind.String()
	}
	return n.Kind.String() + " (" + n.Detail + ")"
}
