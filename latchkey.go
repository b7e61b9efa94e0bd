// Package latchkey holds the domain of the latchkey gateway: users and
// directories, roles and abilities, API keys, sessions, audit events, signing
// keys, the principal that authentication yields for a request, the error type
// shared by every layer, and the Store interface that the storage backends
// implement.
//
// The package depends on the standard library only. Transports (HTTP),
// storage backends (SQLite, PostgreSQL) and the command line live in their own
// packages and meet here.
package latchkey

// Version is the version of latchkey, set at build time with
// -ldflags "-X github.com/latchkey/latchkey.Version=v1.2.3".
var Version = "dev"
