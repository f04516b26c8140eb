package tracedecode

import "go.opentelemetry.io/collector/pdata/pcommon"

// The peer-attribute slots: the span attributes a CLIENT span's peer is
// read from, one slot each, in the order peerValues.pick weighs them
// within their group.
const (
	slotDBSystemName       = iota // db.system.name
	slotDBSystem                  // db.system
	slotDBNamespace               // db.namespace
	slotDBName                    // db.name
	slotPeerService               // peer.service
	slotServicePeerName           // service.peer.name
	slotServerAddress             // server.address
	slotNetworkPeerAddress        // network.peer.address
	peerSlots                     // the number of slots
)

// peerSlot returns the slot of an attribute key, -1 if it names no peer.
func peerSlot(k string) int {
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
	}
	return -1
}

// peerValues holds the first value of each peer attribute of a span.
type peerValues struct {
	have  [peerSlots]bool
	value [peerSlots]string
}

// dbPrecedence is the order a database's name is looked for in.
var dbPrecedence = [...]int{slotDBNamespace, slotDBName, slotDBSystemName, slotDBSystem}

// pick finds the node a CLIENT span names: with a db system attribute, a
// database (db.namespace, else db.name, else the db system); else a peer
// (peer.service, service.peer.name, server.address, network.peer.address).
// Empty values do not count.
func (v *peerValues) pick() (string, PeerKind) {
	if v.have[slotDBSystemName] || v.have[slotDBSystem] {
		for _, i := range dbPrecedence {
			if v.have[i] && v.value[i] != "" {
				return v.value[i], PeerDatabase
			}
		}
	}
	for i := slotPeerService; i < peerSlots; i++ {
		if v.have[i] && v.value[i] != "" {
			return v.value[i], PeerService
		}
	}
	return "", NoPeer
}

// peerOf is pick over a pdata span's attributes.
func peerOf(attrs pcommon.Map) (string, PeerKind) {
	var v peerValues
	for k, val := range attrs.All() {
		if i := peerSlot(k); i >= 0 && !v.have[i] {
			v.value[i], v.have[i] = val.AsString(), true
		}
	}
	return v.pick()
}
