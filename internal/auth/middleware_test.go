package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/servicegraph/servicegraph/internal/auth"
)

func TestHTTPMiddleware(t *testing.T) {
	tokens, err := auth.New("tok")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	custom := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("custom"))
	})
	tests := []struct {
		name       string
		header     string
		deny       http.Handler
		wantStatus int
		wantBody   string
	}{
		{name: "accepted", header: "Bearer tok", wantStatus: http.StatusNoContent},
		{name: "wrong token", header: "Bearer nope", wantStatus: http.StatusUnauthorized},
		{name: "missing", wantStatus: http.StatusUnauthorized},
		{name: "custom deny", header: "Bearer nope", deny: custom, wantStatus: http.StatusUnauthorized, wantBody: "custom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			tokens.HTTPMiddleware(ok, tt.deny).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if wantChallenge := tt.wantStatus == http.StatusUnauthorized; wantChallenge != (challenge == "Bearer") {
				t.Fatalf("WWW-Authenticate = %q with status %d", challenge, rec.Code)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Fatalf("body = %q, want %q", rec.Body, tt.wantBody)
			}
		})
	}
}

func TestUnaryServerInterceptor(t *testing.T) {
	tokens, err := auth.New("tok")
	if err != nil {
		t.Fatal(err)
	}
	handler := func(context.Context, any) (any, error) { return "served", nil }
	tests := []struct {
		name     string
		md       metadata.MD
		wantCode codes.Code
	}{
		{name: "accepted", md: metadata.Pairs("authorization", "Bearer tok"), wantCode: codes.OK},
		{name: "wrong token", md: metadata.Pairs("authorization", "Bearer nope"), wantCode: codes.Unauthenticated},
		{name: "two tokens", md: metadata.Pairs("authorization", "Bearer tok", "authorization", "Bearer tok"), wantCode: codes.Unauthenticated},
		{name: "missing", md: metadata.MD{}, wantCode: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			denied := 0
			icpt := tokens.UnaryServerInterceptor(func(context.Context) { denied++ })
			ctx := metadata.NewIncomingContext(t.Context(), tt.md)
			resp, err := icpt(ctx, nil, &grpc.UnaryServerInfo{}, handler)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v", got, tt.wantCode)
			}
			if tt.wantCode == codes.OK && resp != "served" {
				t.Fatalf("handler not called: %v", resp)
			}
			if wantDenied := map[bool]int{true: 0, false: 1}[tt.wantCode == codes.OK]; denied != wantDenied {
				t.Fatalf("onDeny called %d times, want %d", denied, wantDenied)
			}
		})
	}
}
