package main

import (
	"os/user"

	"github.com/latchkey/latchkey/credential"
)

// cliRemote is the client address the audit log records for changes made
// at the command line.
const cliRemote = "local"

// operator is the actor of every command that manages the store: the
// operator at this machine, who holds every ability latchkey checks, and
// whom the audit log records as "cli:<name>", name being the operating
// system's user ("cli" when it is unknown).
func operator() credential.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return credential.Operator(name)
}
