package demo

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Synchronous traffic: HTTP calls between instrumented services, their
// databases, and the uninstrumented payment provider.

// Error rates of the simulated shop.
const (
	pInternalError = 0.005 // a service's own 5xx
	pOutOfStock    = 0.01  // inventory answers 409
	pStripeFails   = 0.10  // the flaky dependency
	pRetry         = 0.3   // share of failed charges retried once
	pCacheMiss     = 0.15
)

// handler simulates a service's work on a request arriving at the given
// time; it returns when the response leaves and its status code.
type handler func(ctx context.Context, at time.Time) (done time.Time, status int)

// call is one synchronous HTTP call between two instrumented services.
type call struct {
	caller, callee      trace.Tracer
	host, method, route string
	handle              handler
	// retryOf, when valid, is the failed attempt this call resends: the
	// retry is a sibling CLIENT span linking to it.
	retryOf trace.SpanContext
}

// httpCall records the CLIENT span in the caller and, through propagated
// context, the SERVER span in the callee. It returns the CLIENT span's
// context, the time the caller has the response, and its status.
func (g *generator) httpCall(ctx context.Context, c call, at time.Time) (trace.SpanContext, time.Time, int) {
	path := strings.Replace(c.route, "{id}", strconv.Itoa(g.between(1000, 9999)), 1)
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(c.method),
		semconv.ServerAddress(c.host),
		semconv.ServerPort(8080),
		semconv.URLFull("http://" + c.host + ":8080" + path),
		semconv.URLTemplate(c.route),
	}
	var links []trace.Link
	if c.retryOf.IsValid() {
		attrs = append(attrs, semconv.HTTPRequestResendCount(1))
		links = append(links, trace.Link{SpanContext: c.retryOf})
	}
	_, client := start(ctx, c.caller, c.method+" "+c.route, trace.SpanKindClient, at, attrs, links...)

	// The callee sees the caller's span as a remote parent, as it would
	// after extracting the traceparent header.
	sctx := trace.ContextWithRemoteSpanContext(ctx, client.SpanContext())
	sctx, server := start(sctx, c.callee, c.method+" "+c.route, trace.SpanKindServer, at.Add(g.ms(0.2, 1.2)), []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(c.method),
		semconv.HTTPRoute(c.route),
		semconv.URLPath(path),
		semconv.URLScheme("http"),
		semconv.ServerAddress(c.host),
		semconv.ServerPort(8080),
	})
	sdone, status := c.handle(sctx, at.Add(g.ms(0.3, 1.5)))
	server.SetAttributes(semconv.HTTPResponseStatusCode(status))
	// HTTP conventions: a server span fails on 5xx, a client span on 4xx too.
	end(server, sdone, errorType(status, 500), http.StatusText(status))
	done := sdone.Add(g.ms(0.2, 1.2))
	client.SetAttributes(semconv.HTTPResponseStatusCode(status))
	end(client, done, errorType(status, 400), http.StatusText(status))
	return client.SpanContext(), done, status
}

// errorType is the error.type of an HTTP status: the code when it is at
// least threshold, else "".
func errorType(status, threshold int) string {
	if status >= threshold {
		return strconv.Itoa(status)
	}
	return ""
}

// userRequest simulates one user's request to the frontend, a root SERVER
// span, and reports whether it failed.
func (g *generator) userRequest(now time.Time) (failed bool) {
	method, route := http.MethodGet, "/products/{id}"
	switch r := g.rng.Float64(); {
	case r < 0.3:
		route = "/"
	case r >= 0.8:
		method, route = http.MethodPost, "/checkout"
	}
	path := strings.Replace(route, "{id}", strconv.Itoa(g.between(1000, 9999)), 1)
	ctx, root := start(context.Background(), g.t.frontend, method+" "+route, trace.SpanKindServer, now, []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.HTTPRoute(route),
		semconv.URLPath(path),
		semconv.URLScheme("https"),
		semconv.ServerAddress("shop.example.com"),
		semconv.ClientAddress(fmt.Sprintf("203.0.113.%d", g.between(1, 254))),
		semconv.UserAgentOriginal("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"),
	})
	at := now.Add(g.ms(0.3, 2)) // session lookup
	status := http.StatusOK
	product := call{caller: g.t.frontend, callee: g.t.catalog, host: "catalog", method: http.MethodGet, route: "/products/{id}", handle: g.getProduct}
	switch route {
	case "/":
		_, at, status = g.httpCall(ctx, call{caller: g.t.frontend, callee: g.t.catalog, host: "catalog", method: http.MethodGet, route: "/products", handle: g.listProducts}, at)
	case "/products/{id}":
		_, at, status = g.httpCall(ctx, product, at)
	case "/checkout":
		_, at, status = g.httpCall(ctx, product, at) // price check
		if status < 400 {
			_, at, status = g.httpCall(ctx, call{caller: g.t.frontend, callee: g.t.checkout, host: "checkout", method: http.MethodPost, route: "/orders", handle: g.placeOrder}, at)
		}
	}
	switch {
	case status >= 500:
		status = http.StatusBadGateway
	case g.chance(pInternalError / 2):
		status = http.StatusInternalServerError
	}
	at = at.Add(g.ms(1, 6)) // render
	root.SetAttributes(semconv.HTTPResponseStatusCode(status))
	end(root, at, errorType(status, 500), http.StatusText(status))
	return status >= 500
}

// listProducts is catalog's GET /products.
func (g *generator) listProducts(ctx context.Context, at time.Time) (time.Time, int) {
	at, ok := g.redis(ctx, at, "MGET", "MGET product:featured:*")
	if !ok {
		return at.Add(g.ms(0.2, 1)), http.StatusServiceUnavailable
	}
	return at.Add(g.ms(1, 5)), http.StatusOK
}

// getProduct is catalog's GET /products/{id}: a cache read, and on a miss
// the product is rebuilt and cached.
func (g *generator) getProduct(ctx context.Context, at time.Time) (time.Time, int) {
	key := "product:" + strconv.Itoa(g.between(1000, 9999))
	at, ok := g.redis(ctx, at, "GET", "GET "+key)
	if ok && g.chance(pCacheMiss) {
		at, ok = g.redis(ctx, at.Add(g.ms(4, 20)), "SET", "SET "+key+" ? EX 300")
	}
	if !ok {
		return at.Add(g.ms(0.2, 1)), http.StatusServiceUnavailable
	}
	return at.Add(g.ms(0.5, 3)), http.StatusOK
}

// redis records one catalog → redis command. Redis clients still set only
// the old db.system key. It reports whether the command succeeded.
func (g *generator) redis(ctx context.Context, at time.Time, op, query string) (time.Time, bool) {
	_, span := start(ctx, g.t.catalog, op, trace.SpanKindClient, at, []attribute.KeyValue{
		keyDBSystem.String("redis"),
		semconv.DBOperationName(op),
		semconv.DBQueryText(query),
		semconv.ServerAddress("redis"),
		semconv.ServerPort(6379),
	})
	done := at.Add(g.ms(0.2, 1.5))
	if g.chance(pInternalError) {
		done = at.Add(500 * time.Millisecond)
		end(span, done, "timeout", "redis: i/o timeout")
		return done, false
	}
	end(span, done, "", "")
	return done, true
}

// placeOrder is checkout's POST /orders: reserve stock, charge (retrying a
// failed charge sometimes), store the order, publish orders.created.
func (g *generator) placeOrder(ctx context.Context, at time.Time) (time.Time, int) {
	_, at, status := g.httpCall(ctx, call{caller: g.t.checkout, callee: g.t.inventory, host: "inventory", method: http.MethodPost, route: "/reservations", handle: g.reserve}, at)
	if status >= 500 {
		return at.Add(g.ms(0.2, 1)), http.StatusServiceUnavailable
	}
	if status >= 400 {
		return at.Add(g.ms(0.2, 1)), status
	}

	charge := call{caller: g.t.checkout, callee: g.t.payments, host: "payments", method: http.MethodPost, route: "/charges", handle: g.charge}
	attempt, at, status := g.httpCall(ctx, charge, at)
	if status >= 500 && g.chance(pRetry) {
		g.stats.retries++
		charge.retryOf = attempt
		_, at, status = g.httpCall(ctx, charge, at.Add(g.ms(50, 250))) // backoff
	}
	if status >= 400 {
		return at.Add(g.ms(0.2, 1)), http.StatusBadGateway
	}

	_, span := start(ctx, g.t.checkout, "INSERT orders", trace.SpanKindClient, at, []attribute.KeyValue{
		semconv.DBSystemNamePostgreSQL,
		keyDBSystem.String("postgresql"),
		semconv.DBNamespace("orders"),
		semconv.DBCollectionName("orders"),
		semconv.DBOperationName("INSERT"),
		semconv.DBQueryText("INSERT INTO orders (id, customer_id, total) VALUES ($1, $2, $3)"),
		semconv.ServerAddress("postgres"),
		semconv.ServerPort(5432),
	})
	at = at.Add(g.ms(2, 12))
	if g.chance(pInternalError) {
		end(span, at, "40P01", "deadlock detected")
		return at.Add(g.ms(0.2, 1)), http.StatusInternalServerError
	}
	end(span, at, "", "")

	_, span = start(ctx, g.t.checkout, "send orders.created", trace.SpanKindProducer, at, []attribute.KeyValue{
		semconv.MessagingSystemKafka,
		semconv.MessagingDestinationName("orders.created"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.ServerAddress("kafka"),
		semconv.ServerPort(9092),
	})
	at = at.Add(g.ms(0.5, 4))
	end(span, at, "", "")
	g.published = append(g.published, message{producer: span.SpanContext(), sent: at})

	done := at.Add(g.ms(0.3, 2))
	g.checkouts = append(g.checkouts, checkout{server: trace.SpanContextFromContext(ctx), done: done})
	if len(g.checkouts) > maxReportLinks {
		g.checkouts = g.checkouts[1:]
	}
	return done, http.StatusCreated
}

// reserve is inventory's POST /reservations.
func (g *generator) reserve(_ context.Context, at time.Time) (time.Time, int) {
	done := at.Add(g.ms(2, 12))
	switch r := g.rng.Float64(); {
	case r < pInternalError:
		return done, http.StatusInternalServerError
	case r < pInternalError+pOutOfStock:
		return done, http.StatusConflict
	}
	return done, http.StatusCreated
}

// charge is payments' POST /charges: a fraud check, then the payment
// provider, which is not instrumented (peer.service only) and flaky.
func (g *generator) charge(ctx context.Context, at time.Time) (time.Time, int) {
	at = simple(ctx, g.t.payments, "fraud check", trace.SpanKindInternal, at, g.ms(1, 4))
	_, span := start(ctx, g.t.payments, "POST /v1/charges", trace.SpanKindClient, at, []attribute.KeyValue{
		keyPeerService.String("stripe-api"),
		semconv.HTTPRequestMethodKey.String(http.MethodPost),
		semconv.ServerAddress("api.stripe.com"),
		semconv.ServerPort(443),
		semconv.URLFull("https://api.stripe.com/v1/charges"),
	})
	if g.chance(pStripeFails) {
		if g.chance(0.4) {
			at = at.Add(1500 * time.Millisecond)
			end(span, at, "timeout", "context deadline exceeded")
		} else {
			at = at.Add(g.ms(20, 80))
			span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusServiceUnavailable))
			end(span, at, "503", http.StatusText(http.StatusServiceUnavailable))
		}
		return at.Add(g.ms(0.2, 1)), http.StatusBadGateway
	}
	at = at.Add(g.ms(80, 350))
	span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusOK))
	end(span, at, "", "")
	return at.Add(g.ms(0.5, 2)), http.StatusCreated
}
