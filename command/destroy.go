package command

func init() {
	Register(&Command{
		Name:     "destroy",
		Synopsis: "Delete what the configuration declares",
		Help: `
Usage: b2plan [global flags] destroy [-auto-approve] [-json] [-parallelism=N]
                                     [-var NAME=VALUE]... [-var-file=FILE]... [-target=ADDRESS]...
                                     [DIR | FILE.hcl]

  Plans the deletion of every bucket, key and folder the configuration declares that exists,
  prints the plan, asks for confirmation ("yes") on a terminal as apply does, then deletes
  them in reverse dependency order: keys and folder placeholders first, buckets last.
  Unmanaged resources (drift) and objects outside folders are never touched, except by
  force_destroy. Moves are not undone.

  B2 deletes only empty buckets. A bucket holding file versions or unfinished large files is a
  plan error naming the first few, unless its block sets force_destroy = true: then every
  version and unfinished large file is deleted first. A version under Object Lock (retention
  or legal hold) stops it with a plan error naming it. A bucket whose block sets
  prevent_destroy = true is a plan error.

  -target=ADDRESS destroys that address and what depends on it (the keys restricted to a
  bucket, its folders).

Flags:
  -auto-approve     do not ask for confirmation
  -json             print Terraform's machine-readable stream (JSON Lines; docs/json-formats.md)
  -parallelism=N    concurrent operations (default 32)
  -target=ADDRESS   destroy only this address and what depends on it (repeatable)
  -var NAME=VALUE   set an input variable (repeatable)
  -var-file=FILE    read input variables from a file (repeatable)
  -no-color         no colour

Exit status: 0 success (also when nothing exists), 1 error (a plan error: nothing was deleted;
or a failed deletion, listed), 130 interrupted.

Examples:
  b2plan destroy
  b2plan destroy -target=bucket.scratch -auto-approve
  b2plan plan -destroy -out=destroy.plan && b2plan apply destroy.plan
`,
		Run: func(m *Meta, args []string) int { return applyCommand(m, args, "destroy") },
	})
}
