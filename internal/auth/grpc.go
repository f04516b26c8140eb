package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// errUnauthenticated is the gRPC error returned to refused callers.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid bearer token")

// CheckContext reports whether the incoming gRPC metadata of ctx holds
// exactly one "authorization" entry with an accepted token.
func (t *Tokens) CheckContext(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	return len(values) == 1 && t.Check(values[0])
}

// UnaryServerInterceptor refuses calls without an accepted token with
// codes.Unauthenticated, before the handler runs. onDeny, when not nil, is
// called for each refusal (to count it).
func (t *Tokens) UnaryServerInterceptor(onDeny func(ctx context.Context)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !t.CheckContext(ctx) {
			if onDeny != nil {
				onDeny(ctx)
			}
			return nil, errUnauthenticated
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls.
func (t *Tokens) StreamServerInterceptor(onDeny func(ctx context.Context)) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !t.CheckContext(ss.Context()) {
			if onDeny != nil {
				onDeny(ss.Context())
			}
			return errUnauthenticated
		}
		return handler(srv, ss)
	}
}
