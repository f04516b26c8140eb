// Package tlsconfig builds server-side *tls.Config values from files named in
// configuration: a certificate and key, and optionally a client CA bundle
// that turns on mutual TLS (client certificates required and verified).
//
// Contract:
//   - Config is a plain value; Validate checks its shape (a certificate
//     needs a key, a client CA needs a server certificate) without touching
//     the file system, and reports every problem at once.
//   - Server reads the files once, when called, and returns a fresh
//     *tls.Config owned by the caller (TLS 1.2 or newer). Errors name the
//     configuration key and the file. Certificates are not reloaded: rotate
//     them by restarting the component that called Server.
//   - Everything here is safe for concurrent use; nothing is global.
//
// The OTLP receiver and the HTTP API server share this package so that both
// listeners accept the same tls: {cert_file, key_file, client_ca_file} keys.
package tlsconfig
