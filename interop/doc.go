// Package interop holds b2plan's third-party probes: scenarios in which
// b2local is seeded and every version checked byte for byte by tools that
// are not b2plan — Backblaze's Python SDK (b2sdk) and the aws CLI — while
// b2plan runs in-process through its CLI entry point. Each test skips when
// its tool is missing; `apt-get install python3-b2sdk` and an aws CLI bring
// them (CI installs both).
package interop
