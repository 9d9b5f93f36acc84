// Command b2plan is the declarative provisioning tool for Backblaze B2. All of its logic is in
// package command, so that tests can run the CLI in-process.
package main

import (
	"os"

	"github.com/b2plan/b2plan/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
