package receiver

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	grpcencoding "google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/servicegraph/servicegraph/consumer"
	"github.com/servicegraph/servicegraph/internal/otlpwire"
)

// The raw path: when the consumer also implements consumer.ProtoTraces,
// protobuf requests reach it as received, never decoded by pdata. OTLP/HTTP
// hands it the (inflated) body; OTLP/gRPC registers the trace service by
// hand with a codec that keeps the request's bytes, for every consumer (one
// without ProtoTraces gets them decoded by pdata, as over HTTP). Everything
// around the consumer (limits, interceptors, status mapping, metrics) is
// the same on both paths.

// consume hands a request's body to the consumer, undecoded to a
// ProtoTraces consumer when enc is protobuf, decoded by pdata otherwise,
// and returns the outcome and the spans to count.
func (r *Receiver) consume(ctx context.Context, data []byte, enc encoding) (result, int) {
	if raw, ok := r.next.(consumer.ProtoTraces); ok && enc == encProto {
		return r.consumeProto(ctx, raw, data)
	}
	req, ref := decode(data, enc)
	if ref != nil {
		return result{refused: ref}, 0
	}
	td := req.Traces()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	return classify(r.next.ConsumeTraces(ctx, td)), td.SpanCount()
}

// consumeProto hands a serialized ExportTraceServiceRequest to the raw
// consumer and returns the outcome and the spans to count: the request's
// span count, read from its outer levels only, or zero for a request the
// consumer could not decode (as when pdata refuses a request, before any
// consumer runs).
func (r *Receiver) consumeProto(ctx context.Context, raw consumer.ProtoTraces, data []byte) (result, int) {
	spans, _ := otlpwire.SpanCount(data)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	err := raw.ConsumeTracesProto(ctx, data)
	if consumer.IsMalformed(err) {
		spans = 0
	}
	return classify(err), spans
}

// exportResponse is the success answer, with partial_success when p is set.
func exportResponse(p *consumer.PartialError) ptraceotlp.ExportResponse {
	resp := ptraceotlp.NewExportResponse()
	if p != nil {
		resp.PartialSuccess().SetRejectedSpans(p.Rejected)
		resp.PartialSuccess().SetErrorMessage(sanitize(p.Reason))
	}
	return resp
}

// rawExportMethod is the full method name pdata registers, unchanged.
const rawExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawTraceServiceDesc is the OTLP trace service as
// ptraceotlp.RegisterGRPCServer describes it, with a handler that takes the
// request undecoded (see rawCodec).
var rawTraceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*rawTraceServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: rawExportHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

type rawTraceServer interface {
	export(ctx context.Context, req *rawRequest) (any, error)
}

// rawRequest is an ExportTraceServiceRequest as received: a reference to
// gRPC's buffer, released by free once the call is answered. res is the
// request's share of the memory budget, sized by the codec before it
// copies anything; refused is set instead of buf when that failed.
type rawRequest struct {
	buf     mem.Buffer
	res     *reservation
	refused *refusal
}

func (q *rawRequest) bytes() []byte {
	if q.buf == nil {
		return nil
	}
	return q.buf.ReadOnlyData()
}

func (q *rawRequest) free() {
	if q.buf != nil {
		q.buf.Free()
		q.buf = nil
	}
}

// rawResponse is an encoded ExportTraceServiceResponse.
type rawResponse []byte

//nolint:revive // the grpc.MethodHandler signature puts ctx second
func rawExportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*rawService)
	a := admissionFrom(ctx)
	res := s.r.budget.reserve() // only for a stream the tap did not see
	if a != nil {
		res = a.res
	}
	req := &rawRequest{res: res}
	defer res.release() // the memory is free once answered; the stream's end releases it too
	// gRPC (v1.85) calls this handler before reading the message: dec
	// receives it, within the tap's read deadline.
	if err := dec(req); err != nil {
		return nil, err
	}
	if a != nil && !a.arrived() {
		req.free()
		return nil, refuse(reasonTimeout, errReadTimeout.Error()).grpcErr() // counted by the tap's timer
	}
	defer req.free() // after the interceptors and the handler: nothing keeps the bytes
	if req.refused != nil {
		s.r.metrics.refuse(transportGRPC, req.refused.reason, 0)
		return nil, req.refused.grpcErr()
	}
	if interceptor == nil {
		return s.export(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: rawExportMethod}
	return interceptor(ctx, req, info, func(ctx context.Context, q any) (any, error) {
		return s.export(ctx, q.(*rawRequest))
	})
}

// rawService answers Export from the request's bytes.
type rawService struct{ r *Receiver }

var _ rawTraceServer = (*rawService)(nil)

func (s *rawService) export(ctx context.Context, req *rawRequest) (any, error) {
	res, spans := s.r.consume(ctx, req.bytes(), encProto)
	if res.refused != nil {
		s.r.metrics.refuse(transportGRPC, res.refused.reason, spans)
		return nil, res.refused.grpcErr()
	}
	s.r.metrics.accept(transportGRPC, spans, res.partial)
	out, err := exportResponse(res.partial).MarshalProto()
	if err != nil {
		// Cannot happen for a response we built; answer retryable.
		return nil, refuse(reasonRetryable, "encode response: "+err.Error()).grpcErr()
	}
	return rawResponse(out), nil
}

// rawCodec is the gRPC server's codec. gRPC has already checked the
// message size and inflated gzip when it calls Unmarshal, and frees data
// when Unmarshal returns (grpc v1.85 rpc_util.go recv: "If the codec wants
// its own reference to the data, it can get it"). So Unmarshal first sizes
// the request's reservation to the message (refusing it, uncopied, when
// the budget is short), then keeps a reference: MaterializeToBuffer takes
// one on a message that arrived in one buffer (no copy) and copies one
// that spans several (HTTP/2 frames of 16 KiB) into one buffer from the
// pool; the handler frees it after answering. Responses arrive encoded. Anything else (no
// other service is registered) goes to the registered "proto" codec.
type rawCodec struct{ fallback grpcencoding.CodecV2 }

func newRawCodec() rawCodec { return rawCodec{fallback: grpcencoding.GetCodecV2("proto")} }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(rawResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.fallback.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if q, ok := v.(*rawRequest); ok {
		need := protoCostPerByte * int64(data.Len())
		if err := q.res.resize(need); err != nil {
			q.refused = budgetRefusal(err, need)
			return nil
		}
		q.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
		return nil
	}
	return c.fallback.Unmarshal(data, v)
}

func (rawCodec) Name() string { return "proto" }
