// Package auth checks static bearer tokens (RFC 6750) for HTTP and gRPC
// servers: the OTLP receiver and the HTTP API share it.
//
// Contract:
//   - Tokens are loaded once (LoadFile / Config.Load: one token a line,
//     blank lines and lines starting with '#' ignored) and never change; a
//     *Tokens is immutable and safe for concurrent use.
//   - Check compares the presented token against every configured token in
//     constant time (SHA-256 digests compared with crypto/subtle, so neither
//     the position of the first differing byte nor the token's length
//     leaks). A nil *Tokens accepts nothing: callers that want "no auth"
//     simply do not install the middleware.
//   - Tokens never appear in errors or logs; errors name the file and line.
//   - HTTP refusals carry "WWW-Authenticate: Bearer"; gRPC refusals are
//     codes.Unauthenticated. gRPC reads a call's whole message before any
//     interceptor runs, so a server that must not spend memory on
//     unauthenticated calls checks CheckContext in its grpc.InTapHandle,
//     from the call's headers, as the receiver does; the interceptors here
//     suit servers where that does not matter. Callers may supply their own refusal body
//     (HTTP) or be told of each refusal (gRPC) to count it.
package auth
