package graph

import (
	"fmt"
	"strings"
)

// Kind is an edge's connection type.
type Kind uint8

// Edge kinds, in report order.
const (
	Call      Kind = iota // synchronous parent → child call; connection_type ""
	Messaging             // producer → consumer; connection_type "messaging_system"
	SpanLink              // any other span link; connection_type "span_link"
	Database              // client → database; connection_type "database"
	Virtual               // client → uninstrumented peer, or user → root server; "virtual_node"
	numKinds
)

// Kinds lists every edge kind in report order.
var Kinds = [...]Kind{Call, Messaging, SpanLink, Database, Virtual}

var (
	kindNames = [...]string{"call", "messaging_system", "span_link", "database", "virtual_node"}
	connTypes = [...]string{"", "messaging_system", "span_link", "database", "virtual_node"}
)

// String returns the name used in the `kinds` query filter: call,
// messaging_system, span_link, database or virtual_node.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ConnectionType returns the value of the `connection_type` metric label
// (Grafana Tempo's): "" for calls, else the kind's name.
func (k Kind) ConnectionType() string {
	if k < numKinds {
		return connTypes[k]
	}
	return k.String()
}

// Async reports whether edges of this kind are asynchronous (drawn dashed).
func (k Kind) Async() bool { return k == Messaging || k == SpanLink }

// ParseKind parses a kind name as accepted by the `kinds` filter.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if s == n {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}

// KindSet is a set of edge kinds.
type KindSet uint8

// AllKinds holds every kind.
const AllKinds KindSet = 1<<numKinds - 1

// Has reports whether k is in the set.
func (s KindSet) Has(k Kind) bool { return s&(1<<k) != 0 }

// With returns the set plus k.
func (s KindSet) With(k Kind) KindSet { return s | 1<<k }

// ParseKinds parses a comma-separated list of kind names; empty means all.
func ParseKinds(list string) (KindSet, error) {
	if strings.TrimSpace(list) == "" {
		return AllKinds, nil
	}
	var s KindSet
	for _, f := range strings.Split(list, ",") {
		k, err := ParseKind(strings.TrimSpace(f))
		if err != nil {
			return 0, err
		}
		s = s.With(k)
	}
	return s, nil
}

// NodeKind tells what a node stands for.
type NodeKind uint8

// Node kinds. A name seen as a span's service is a Service whatever else it
// was named by (Rank). The values are stored (state file, peer wire form):
// new kinds are appended.
const (
	VirtualNode  NodeKind = iota // user, or a peer named by a client span but never instrumented
	DatabaseNode                 // a database named by a client span's db.* attributes
	ServiceNode                  // a service that sends spans
	TopicNode                    // a messaging destination (--broker-nodes): producer → topic → consumer
	numNodeKinds
)

var nodeKindNames = [...]string{"virtual", "database", "service", "topic"}

// nodeKindRanks orders the kinds a name may be given: a name is the
// highest it was given (a database that turns out to send spans becomes a
// service; so does a topic named like a service, which then merges with
// it).
var nodeKindRanks = [...]uint8{VirtualNode: 0, DatabaseNode: 1, TopicNode: 2, ServiceNode: 3}

// Rank orders node kinds: Virtual < Database < Topic < Service.
func (k NodeKind) Rank() uint8 {
	if k < numNodeKinds {
		return nodeKindRanks[k]
	}
	return 0
}

// String returns "service", "database", "virtual" or "topic".
func (k NodeKind) String() string {
	if int(k) < len(nodeKindNames) {
		return nodeKindNames[k]
	}
	return fmt.Sprintf("nodekind(%d)", uint8(k))
}

// LinkResult is the outcome of one span link, for link health.
type LinkResult uint8

// Link results, the values of servicegraph_span_links_total's result label.
const (
	LinkResolved   LinkResult = iota // target seen: an edge was counted
	LinkUnresolved                   // target never seen within the link wait
	LinkInvalid                      // all-zero or malformed trace or span id
	LinkDropped                      // a bound was hit before the link could resolve
	NumLinkResults
)

var linkResultNames = [...]string{"resolved", "unresolved", "invalid", "dropped"}

// String returns the metric label value.
func (r LinkResult) String() string {
	if r < NumLinkResults {
		return linkResultNames[r]
	}
	return fmt.Sprintf("linkresult(%d)", uint8(r))
}
