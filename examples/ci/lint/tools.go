//go:build tools

// Package lint pins the linter that .ci/run uses on the CI recipes of examples/ci: a module of
// its own, so that its dependencies stay out of b2plan's go.mod.
package lint

import _ "github.com/rhysd/actionlint/cmd/actionlint"
