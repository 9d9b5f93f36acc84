package command

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

func init() {
	Register(&Command{
		Name:     "version",
		Synopsis: "Print the version and build information",
		Help: `
Usage: b2plan version

  Prints the b2plan version (the module version, or "dev" for a source build), the VCS
  revision it was built from when known, the Go version and the platform.
  "b2plan -version" does the same.

Examples:
  b2plan version
  b2plan -version
  go version -m "$(command -v b2plan)"   # every module version the binary was built with
`,
		Run: runVersion,
	})
}

// Version returns the version string from the build information.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "dev"
	}
	return bi.Main.Version
}

func runVersion(m *Meta, args []string) int {
	if len(args) > 0 {
		if args[0] == "-help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(m.Stdout, commands["version"].Help[1:])
			return ExitOK
		}
		return m.Errorf("version takes no arguments")
	}
	fmt.Fprintf(m.Stdout, "b2plan %s\n", Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, when, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if rev != "" {
			fmt.Fprintf(m.Stdout, "revision %s%s %s\n", rev, modified, when)
		}
	}
	fmt.Fprintf(m.Stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return ExitOK
}
