// Package command is the b2plan command line: global flags, the command table, argument
// parsing and the human and JSON views. cmd/b2plan/main.go only calls Run and exits with its
// result, so tests run the CLI in-process.
//
// Each command lives in its own file and registers itself from init with Register(&Command{
// Name, Synopsis, Help, Run}). Run receives a *Meta (streams, -chdir, -no-color, environment)
// and returns the exit code; Meta.Path resolves command-line paths against -chdir,
// Meta.WriteDiagnostics renders hcl.Diagnostics (coloured only on a terminal), and
// NewJSONDiagnostics converts them to Terraform's JSON shape.
//
// Exit codes (SPEC §2): 0 success, 1 error, 2 changes present (plan -detailed-exitcode),
// 130 interrupted; fmt -check uses 3 for "files need formatting", as terraform fmt does.
package command
