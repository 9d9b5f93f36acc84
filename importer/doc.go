// Package importer turns a snapshot of an existing B2 account (live.Live) into a b2plan
// configuration that declares it, so that an account set up with other tools can be adopted:
// a plan made right after the import shows no changes. It does no I/O.
//
// The entry point is Generate(live, Options) → *Result, whose HCL is formatted with hclwrite.
// Buckets are declared with every attribute (type, info, lifecycle rules — as the
// keep_only_last_version preset when they are exactly that —, CORS rules, encryption, Object
// Lock); keys with their intent (an access preset when the capabilities equal one exactly,
// otherwise the capability list; buckets by reference to the imported bucket blocks;
// name_prefix); notification rules (signing secrets as sensitive variables, notify.go); and,
// only when asked (Options.Objects, object.go), object blocks whose content the caller has
// downloaded. Secrets are never written into the output.
//
// What the configuration language cannot declare, or what would make the next plan change
// something (a bucket type other than allPrivate/allPublic, two keys with one name, an expired
// key, a key restricted to a bucket that is not visible), is written as a commented-out block
// with the reason, and listed in Result.Skipped. As a last line of defence the generated text is
// loaded with config.LoadSources, and any block it refuses is commented out the same way.
package importer
