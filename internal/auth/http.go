package auth

import "net/http"

// challenge is the WWW-Authenticate value sent with every refusal.
const challenge = "Bearer"

// HTTPMiddleware serves next when the request's Authorization header
// carries an accepted token. Otherwise it sets "WWW-Authenticate: Bearer"
// and serves deny, which writes the 401 response; a nil deny writes a
// plain-text 401.
func (t *Tokens) HTTPMiddleware(next, deny http.Handler) http.Handler {
	if deny == nil {
		deny = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "missing or invalid bearer token", http.StatusUnauthorized)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.Check(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		deny.ServeHTTP(w, r)
	})
}
