// Package otlpwire reads the protobuf wire format of OTLP requests without
// decoding them into pdata: the primitives internal/tracedecode's trace
// decoder and the receiver's span counter (SpanCount) are built on.
//
// # Contract
//
//   - Equivalence with pdata. The primitives accept and reject exactly what
//     the decoders generated for go.opentelemetry.io/collector/pdata
//     (internal/proto) accept and reject, so that a raw decoder built on
//     them refuses a request if and only if ptraceotlp.ExportRequest's
//     UnmarshalProto does. That decoder is laxer than
//     google.golang.org/protobuf/encoding/protowire in three ways, mirrored
//     here: the tenth byte of a varint may carry any bits (those past bit 63
//     are dropped, protowire refuses them); a field number is the tag
//     shifted right by three and truncated to int32 (protowire refuses
//     numbers past 2^29-1); and an unknown group is skipped as pdata's
//     ConsumeUnknown does, which stops after the group's first non-group
//     field. protowire supplies the wire types.
//   - Errors. Functions return a position; a negative one is a Code, which
//     Code.Error describes. Nothing allocates, panics or recurses.
//   - Safe for concurrent use: there is no state.
package otlpwire
