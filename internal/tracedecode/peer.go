package tracedecode

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The peer-attribute slots: the span attributes a Naming may name, one
// slot each. The decoder keeps the first value of each (peerSlot is a
// switch, so that a span's other attributes cost one failed match).
const (
	slotDBSystemName       = iota // db.system.name
	slotDBSystem                  // db.system
	slotDBNamespace               // db.namespace
	slotDBName                    // db.name
	slotPeerService               // peer.service
	slotServicePeerName           // service.peer.name
	slotServerAddress             // server.address
	slotNetworkPeerAddress        // network.peer.address (with :network.peer.port when present)
	slotNetworkPeerPort           // network.peer.port (read with network.peer.address only)
	slotNetPeerName               // net.peer.name (semantic conventions before 1.21)
	slotNetSockPeerAddr           // net.sock.peer.addr (before 1.21)
	slotClientAddress             // client.address (a server span's caller)
	slotMultiplier                // Naming's span multiplier attribute, any key (weight.go)
	peerSlots                     // the number of slots
)

// slotKeys are the attribute keys of the slots.
var slotKeys = [peerSlots]string{
	slotDBSystemName: "db.system.name", slotDBSystem: "db.system", slotDBNamespace: "db.namespace", slotDBName: "db.name",
	slotPeerService: "peer.service", slotServicePeerName: "service.peer.name", slotServerAddress: "server.address",
	slotNetworkPeerAddress: "network.peer.address", slotNetworkPeerPort: "network.peer.port",
	slotNetPeerName: "net.peer.name", slotNetSockPeerAddr: "net.sock.peer.addr", slotClientAddress: "client.address",
	slotMultiplier: "", // configured: Naming.multiplier
}

// slotKeyLengths has bit n set when a slot's key (all shorter than 64
// bytes) has n bytes: most other attributes fail this first test.
var slotKeyLengths = func() (m uint64) {
	for _, k := range slotKeys[:slotMultiplier] {
		m |= 1 << len(k)
	}
	return m
}()

// peerSlot returns the slot of an attribute key, -1 if it names no peer.
func peerSlot(k string) int {
	if len(k) >= 64 || slotKeyLengths>>len(k)&1 == 0 {
		return -1
	}
	switch k {
	case "db.system.name":
		return slotDBSystemName
	case "db.system":
		return slotDBSystem
	case "db.namespace":
		return slotDBNamespace
	case "db.name":
		return slotDBName
	case "peer.service":
		return slotPeerService
	case "service.peer.name":
		return slotServicePeerName
	case "server.address":
		return slotServerAddress
	case "network.peer.address":
		return slotNetworkPeerAddress
	case "network.peer.port":
		return slotNetworkPeerPort
	case "net.peer.name":
		return slotNetPeerName
	case "net.sock.peer.addr":
		return slotNetSockPeerAddr
	case "client.address":
		return slotClientAddress
	}
	return -1
}

// NamingAttributes lists the attribute keys a Naming may name, in slot
// order.
func NamingAttributes() []string { return slotKeys[:slotMultiplier] }

// slot is peerSlot, and slotMultiplier for n's span multiplier key.
func (n *Naming) slot(k string) int {
	if i := peerSlot(k); i >= 0 {
		return i
	}
	if len(k) == len(n.multiplier) && k == n.multiplier && k != "" {
		return slotMultiplier
	}
	return -1
}

// Naming says which span attributes name, in order of precedence, the
// database of a CLIENT span that has db.system.name or db.system, the
// uninstrumented peer of another CLIENT span, and the caller of a root
// SERVER or CONSUMER span. The first non-empty value wins;
// network.peer.address is followed by :network.peer.port when the span has
// one. A Naming is immutable once made: share it.
type Naming struct {
	database, peer, caller []uint8 // slots, in order
	// multiplier is the span attribute holding a span's sampling weight
	// ("": none; WithSpanMultiplier).
	multiplier string
}

// Default attribute lists (NewDefaultNaming).
var (
	// DefaultDatabaseAttributes: the database's own name, then the peer
	// it is reached at, only then the database system (which merges
	// every database of that system into one node).
	DefaultDatabaseAttributes = []string{"db.namespace", "db.name", "peer.service", "service.peer.name",
		"server.address", "network.peer.address", "db.system.name", "db.system"}
	// DefaultPeerAttributes: names first, then addresses.
	DefaultPeerAttributes = []string{"peer.service", "service.peer.name", "server.address", "network.peer.address"}
	// DefaultCallerAttributes: names only, so that no node is an IP
	// address unless asked for (client.address, network.peer.address).
	DefaultCallerAttributes = []string{"peer.service", "service.peer.name"}
)

// defaultNaming is NewDefaultNaming's value, for Records without one.
var defaultNaming = func() Naming {
	n, err := NewNaming(DefaultDatabaseAttributes, DefaultPeerAttributes, DefaultCallerAttributes)
	if err != nil {
		panic(err) // the defaults are valid (TestNaming)
	}
	return *n
}()

// NewDefaultNaming returns the Naming of the default attribute lists.
func NewDefaultNaming() *Naming {
	n := defaultNaming
	return &n
}

// NewNaming makes a Naming of the three ordered attribute lists. Every
// key must be one of NamingAttributes, at most once in a list;
// network.peer.port cannot stand alone. An empty caller list gives every
// root SERVER span the caller user; empty database or peer lists leave
// such CLIENT spans without a node. Every problem is reported at once.
func NewNaming(database, peer, caller []string) (*Naming, error) {
	var n Naming
	var errs []error
	for _, l := range []struct {
		name string
		keys []string
		dst  *[]uint8
	}{{"database_name_attributes", database, &n.database}, {"peer_attributes", peer, &n.peer},
		{"caller_attributes", caller, &n.caller}} {
		seen := map[int]bool{}
		for _, k := range l.keys {
			i := peerSlot(k)
			switch {
			case i < 0:
				errs = append(errs, fmt.Errorf("%s: unknown attribute %q: must be one of %s", l.name, k,
					strings.Join(NamingAttributes(), ", ")))
			case i == slotNetworkPeerPort:
				errs = append(errs, fmt.Errorf("%s: network.peer.port must not stand alone (it is read with network.peer.address)", l.name))
			case seen[i]:
				errs = append(errs, fmt.Errorf("%s: %q must appear once, got it twice", l.name, k))
			default:
				seen[i] = true
				*l.dst = append(*l.dst, uint8(i))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &n, nil
}

// naming is r's Naming, the default if it has none.
func (r *Records) naming() *Naming {
	if r.Naming != nil {
		return r.Naming
	}
	return &defaultNaming
}

// wantsPeer reports whether a span's peer attributes are read: a CLIENT
// span (its database or peer) and a root SERVER or CONSUMER span (its
// caller).
func wantsPeer(s *Span) bool {
	return s.Kind == KindClient || s.Parent == [8]byte{} && (s.Kind == KindServer || s.Kind == KindConsumer)
}

// value is the first value of the peer attribute in slot i, as
// pcommon.Value.AsString makes it, read only when asked for (have[i]).
func (p *peerAttrs) value(i uint8) string {
	if p.isStr[i] {
		return p.str[i]
	}
	return valueString(p.kv[i])
}

// first returns the first non-empty value among slots.
func (p *peerAttrs) first(slots []uint8) string {
	for _, i := range slots {
		if !p.have[i] {
			continue
		}
		v := p.value(i)
		if v == "" {
			continue
		}
		if i == slotNetworkPeerAddress && p.have[slotNetworkPeerPort] {
			if port := p.value(slotNetworkPeerPort); port != "" {
				return v + ":" + port
			}
		}
		return v
	}
	return ""
}

// pick sets the node s names (wantsPeer): for a CLIENT span with a db
// system attribute, a database (n.database); for another CLIENT span, a
// peer (n.peer); for a root SERVER or CONSUMER span, its caller
// (n.caller). Empty values do not count.
func (p *peerAttrs) pick(n *Naming, s *Span) {
	var name string
	kind := PeerService
	switch {
	case s.Kind != KindClient:
		name, kind = p.first(n.caller), PeerCaller
	case p.have[slotDBSystemName] || p.have[slotDBSystem]:
		name, kind = p.first(n.database), PeerDatabase
	default:
		name = p.first(n.peer)
	}
	if name == "" {
		kind = NoPeer
	}
	s.Peer, s.PeerKind = name, kind
}

// peerOf is pick over a pdata span's attributes.
func peerOf(attrs pcommon.Map, n *Naming, s *Span) {
	var p peerAttrs
	for k, val := range attrs.All() {
		if i := n.slot(k); i >= 0 && !p.have[i] {
			p.str[i], p.isStr[i], p.have[i] = val.AsString(), true, true
		}
	}
	p.pick(n, s)
}
