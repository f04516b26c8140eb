package receiver

import (
	"context"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip decompressor
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// newGRPCServer builds the OTLP/gRPC server. Order of checks: message size
// (gRPC itself, ResourceExhausted), memory budget (the codec: Unavailable +
// RetryInfo, or ResourceExhausted when the request could never fit),
// bearer token (Unauthenticated), concurrency limit (Unavailable +
// RetryInfo), then the consumer. A consumer that implements
// consumer.ProtoTraces gets the request's bytes (raw.go); any other gets
// pdata's decoding of them.
func (r *Receiver) newGRPCServer() *grpc.Server {
	chain := []grpc.UnaryServerInterceptor{r.recoverInterceptor}
	if r.tokens != nil {
		chain = append(chain, r.tokens.UnaryServerInterceptor(func(context.Context) {
			r.metrics.refuse(transportGRPC, reasonUnauthenticated, 0)
		}))
	}
	chain = append(chain, r.limitInterceptor)
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(min(r.cfg.MaxRequestBytes, math.MaxInt32))),
		grpc.ConnectionTimeout(r.cfg.ReadHeaderTimeout),
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ForceServerCodecV2(newRawCodec()),
		grpc.StatsHandler(sizeRefusals{r.metrics}),
	}
	if r.tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.tlsConf.Clone())))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&rawTraceServiceDesc, &rawService{r: r}) // raw.go
	return s
}

// recoverInterceptor turns a panic below it into an Internal error, as
// net/http does for HTTP, so that one bad request never stops the service.
func (r *Receiver) recoverInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("panic serving OTLP/gRPC request", "method", info.FullMethod, "panic", p)
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
	}()
	return handler(ctx, req)
}

func (r *Receiver) limitInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !r.limit.acquire() {
		ref := refuse(reasonOverloaded, "too many concurrent requests: retry later")
		r.metrics.refuse(transportGRPC, ref.reason, 0)
		return nil, ref.grpcErr()
	}
	defer r.limit.release()
	return handler(ctx, req)
}

// sizeRefusals counts the calls gRPC refuses itself, before any
// interceptor, for a message over max_request_bytes. The service never
// answers ResourceExhausted, so that code identifies them.
type sizeRefusals struct{ m *metrics }

func (sizeRefusals) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (sizeRefusals) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (sizeRefusals) HandleConn(context.Context, stats.ConnStats) {}

func (h sizeRefusals) HandleRPC(_ context.Context, s stats.RPCStats) {
	if end, ok := s.(*stats.End); ok && status.Code(end.Error) == codes.ResourceExhausted {
		h.m.refuse(transportGRPC, reasonTooLarge, 0)
	}
}
