package receiver

import (
	"context"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip decompressor
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// newGRPCServer builds the OTLP/gRPC server. Order of checks, from the
// stream's headers (admit.go): bearer token (Unauthenticated), a
// reservation of max_request_bytes from the memory budget (Unavailable +
// RetryInfo) and the read deadline (CANCELLED); then, as the message
// arrives, its size (gRPC itself, ResourceExhausted); its cost against the
// budget (the codec: Unavailable + RetryInfo); the concurrency limit
// (Unavailable + RetryInfo); then the consumer. A consumer that implements
// consumer.ProtoTraces gets the request's bytes (raw.go); any other gets
// pdata's decoding of them.
func (r *Receiver) newGRPCServer() *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.InTapHandle(r.tapHandle),
		grpc.MaxConcurrentStreams(uint32(min(r.cfg.MaxStreamsPerConnection, math.MaxUint32))),
		grpc.MaxRecvMsgSize(int(min(r.cfg.MaxRequestBytes, math.MaxInt32))),
		grpc.ConnectionTimeout(r.cfg.ReadHeaderTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: r.cfg.IdleTimeout}),
		grpc.ChainUnaryInterceptor(r.recoverInterceptor, r.limitInterceptor),
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

// sizeRefusals counts the calls gRPC refuses itself, before the handler,
// for a message over max_request_bytes: the calls that end
// ResourceExhausted whose handler never ran (the handler counts its own).
type sizeRefusals struct{ m *metrics }

func (sizeRefusals) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (sizeRefusals) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (sizeRefusals) HandleConn(context.Context, stats.ConnStats) {}

func (h sizeRefusals) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || status.Code(end.Error) != codes.ResourceExhausted {
		return
	}
	if a := admissionFrom(ctx); a == nil || a.state.Load() != admArrived {
		h.m.refuse(transportGRPC, reasonTooLarge, 0)
	}
}
