// Package config turns a directory of b2plan *.hcl files into a typed, validated Desired model.
//
// Entry points:
//
//	d, diags := config.Load(path, config.VarInputs{Vars: ..., VarFiles: ..., Env: os.Environ()})
//	d, diags := config.LoadSources(dir, map[string][]byte{...}, vars) // tests, fuzzing
//
// path is a directory (every *.hcl file in it, sorted, not recursive) or a single .hcl file.
// Problems are hcl.Diagnostics, never Go errors: loading keeps going and reports every problem
// in one run, each with the tightest source range and a detail that says how to fix it.
// d is never nil; d.Files holds every parsed file for hcl.NewDiagnosticTextWriter.
//
// Evaluation: variables first (default < B2PLAN_VAR_NAME < -var-file < -var), then locals and
// the bucket, key, folder and move blocks in dependency order (a reference graph; cycles are
// diagnostics), then the b2plan and provider blocks, then the checks that span items
// (duplicate names, overlapping moves). Functions are the Terraform-like cty stdlib set
// (functions.go); none does I/O.
//
// Values known only after apply. A block's id (bucket.NAME.id, key.NAME.id) is not known
// before apply for a bucket or key the same apply creates, so b2plan never guesses it. During
// evaluation the id is a cty unknown marked with the address it belongs to; marks travel
// through templates and functions. When a final attribute value is unknown because of such a
// mark:
//
//   - if the attribute may be deferred (bucket info values, key name_prefix), the item gets a
//     Deferred{Path, Template, Refs} entry: Template is the value with each id written as
//     "${bucket.assets.id}", Refs the addresses whose id is needed, and the typed field holds
//     the template too. A planner shows "(known after apply)" for such a path; an executor
//     calls Deferred.Resolve(ids) once the ids exist. (The template is obtained by evaluating
//     the expression again with the ids replaced by their placeholders; a function that
//     mangles a placeholder, e.g. upper(bucket.x.id), is reported as an error.)
//   - otherwise (names, bucket references, for_each, durations...) it is an error: those
//     values decide identity and must be known at plan time. The fix the message gives is to
//     refer to the bucket by name (bucket.assets.name), which is known.
//
// Language beyond resources (one file each): output.go (output blocks; Desired.Outputs,
// values with ids as "${ADDR.id}" placeholders until apply), data.go (data "bucket", "key",
// "account": lookups listed in Desired.DataSources on a first load and given back as
// VarInputs.Data on a second, so that loading stays free of network I/O), module.go (local
// modules: a child loader per instance with an address prefix, sharing the model, budget and
// secrets), providers.go (provider aliases: Provider.Alias, the provider of every item,
// Desired.ForProvider, checks across accounts).
//
// Hostile input: no configuration may crash or hang the loader. depth.go refuses a file nested
// too deeply before HCL parses it (its parser recurses per level); limits.go bounds numbers,
// values and function results (estimated before they are built); budget.go charges for loop
// iterations and the size of values handled, before the work, to one budget per load; load.go
// keeps at most 50 diagnostics per file. Evaluation contexts hold only what an expression
// refers to, so evaluation is linear in the number of blocks. docs/configuration.md, "Limits".
//
// Secrets: Provider.ApplicationKey is a Secret, which redacts itself in String, GoString,
// fmt verbs and JSON. Values of variables declared sensitive = true carry a cty mark through
// evaluation; sensitive.go decides where they may go, records the plan attributes they reach
// (Bucket.Sensitive, Key.Sensitive), removes their text from every diagnostic and masks
// secret literals in the source bytes of Desired.Files, which diagnostics quote as snippets.
package config
