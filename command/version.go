package command

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	Register(&Command{
		Name:     "version",
		Synopsis: "Print the version and build information",
		Help: `
Usage: b2plan version

  Prints the b2plan version (the module version when built from a tagged module, as
  "go install github.com/b2plan/b2plan/cmd/b2plan@v1.2.3" does; "dev" for any other build),
  the VCS revision it was built from when known, the Go version and the platform.
  "b2plan -version" does the same.

Examples:
  b2plan version
  b2plan -version
  go version -m "$(command -v b2plan)"   # every module version the binary was built with
`,
		Run: runVersion,
	})
}

// Version returns the version string from the build information: the module version when
// the binary was built from a tagged module ("go install …/cmd/b2plan@v1.2.3"), "dev"
// otherwise (a source checkout, whose Go-stamped pseudo-version is not a release).
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

// pseudoVersion matches the suffix of a Go pseudo-version (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef,
// also with a pre-release base: vX.Y.Z-pre.0.yyyymmddhhmmss-…).
var pseudoVersion = regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}$`)

func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" || strings.Contains(v, "+dirty") {
		return "dev"
	}
	if pseudoVersion.MatchString(strings.TrimSuffix(v, "+incompatible")) {
		return "dev"
	}
	return v
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
