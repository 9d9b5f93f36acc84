package command

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/config"
	"github.com/b2plan/b2plan/executor"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// Several accounts (provider aliases): docs/commands.md "Several accounts". A configuration
// without aliases takes the single-account path of pipeline.go; with aliases, every account
// is connected, observed and planned here, and apply applies each account's part of the plan
// with its own connection.

// account is one provider's connection and snapshot.
type account struct {
	alias   string // "" = the default provider
	conn    *b2client.Conn
	shared  bool       // conn is another provider's (same endpoint and key): not closed twice
	live    *live.Live // planning: the snapshot; saved plan: the current state
	current *live.Live
}

// aliasEnv is the environment variable of an alias: B2_BACKUP_APPLICATION_KEY_ID for
// alias "backup" and name "APPLICATION_KEY_ID" (upper-cased, '-' becomes '_').
func aliasEnv(alias, name string) string { return config.EnvName(alias, name) }

// aliasMeta is m with the environment an alias connection sees: its own B2_ALIAS_*
// credentials stand for B2_APPLICATION_KEY_ID / _KEY (the default provider's are removed),
// and B2_ENDPOINT is gone (the caller resolved the endpoint). Connecting through it keeps one
// way of constructing clients (Meta.connect) for every provider.
func (m *Meta) aliasMeta(alias string) *Meta {
	am := *m
	am.Env = nil
	for _, kv := range m.Env {
		k, _, _ := strings.Cut(kv, "=")
		if k != "B2_ENDPOINT" && k != "B2_APPLICATION_KEY_ID" && k != "B2_APPLICATION_KEY" {
			am.Env = append(am.Env, kv)
		}
	}
	for _, name := range []string{"APPLICATION_KEY_ID", "APPLICATION_KEY"} {
		if v := m.Getenv(aliasEnv(alias, name)); v != "" {
			am.Env = append(am.Env, "B2_"+name+"="+v)
		}
	}
	return &am
}

// aliasEndpoint resolves the endpoint of an alias: its endpoint argument, overridden by
// B2_ALIAS_ENDPOINT; with neither and no credentials anywhere, its own embedded emulator
// local://<config dir>/.b2plan/local-ALIAS (its own account); with credentials, B2.
func (m *Meta) aliasEndpoint(d *config.Desired, p *config.Provider) (string, error) {
	ep := strings.TrimSpace(p.Endpoint)
	if env := strings.TrimSpace(m.Getenv(aliasEnv(p.Alias, "ENDPOINT"))); env != "" {
		ep = env
	}
	if ep == "" {
		if p.ApplicationKeyID == "" && m.Getenv(aliasEnv(p.Alias, "APPLICATION_KEY_ID")) == "" {
			dir, err := filepath.Abs(filepath.Join(d.Dir, LocalStateDir+"-"+p.Alias))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(m.Stderr, "Note: provider b2.%s has no endpoint and no credentials: using its own embedded local emulator (state in %s).\n", p.Alias, dir)
			return "local://" + dir, nil
		}
		return b2client.DefaultEndpoint, nil
	}
	return absLocal(ep)
}

// connectAlias connects to an alias's account (B2_ALIAS_APPLICATION_KEY_ID / _KEY when the
// block gives no credentials; never the default provider's).
func (m *Meta) connectAlias(ctx context.Context, endpoint, alias, keyID, key string) (*b2client.Conn, error) {
	c, err := m.aliasMeta(alias).connect(ctx, endpoint, keyID, key)
	if err != nil {
		return nil, fmt.Errorf("provider b2.%s: %w (its credentials: application_key_id and application_key in its provider block, or %s and %s)",
			alias, err, aliasEnv(alias, "APPLICATION_KEY_ID"), aliasEnv(alias, "APPLICATION_KEY"))
	}
	return c, nil
}

func (pl *pipeline) closeAccounts() {
	for _, a := range pl.accounts {
		if a.alias != "" && !a.shared && a.conn != nil {
			a.conn.Close()
		}
	}
}

// connectAccounts connects every alias of d (the default provider is pl.conn). Two
// providers on the same endpoint with the same key share a connection; two providers
// reaching one account are refused (its resources would be planned twice).
func (m *Meta) connectAccounts(ctx context.Context, pl *pipeline, defaultEP string) error {
	d := pl.desired
	pl.accounts = []*account{{alias: "", conn: pl.conn}}
	eps := map[string]*account{defaultEP + "\x00" + pl.conn.KeyID(): pl.accounts[0]}
	if strings.HasPrefix(defaultEP, "local://") {
		eps[defaultEP+"\x00"] = pl.accounts[0]
	}
	for _, p := range d.ProviderAliases {
		ep, err := m.aliasEndpoint(d, p)
		if err != nil {
			return err
		}
		keyID := p.ApplicationKeyID
		if keyID == "" && p.ApplicationKey.Reveal() == "" {
			keyID = m.Getenv(aliasEnv(p.Alias, "APPLICATION_KEY_ID"))
		}
		a := &account{alias: p.Alias}
		if prev, ok := eps[ep+"\x00"+keyID]; ok || (strings.HasPrefix(ep, "local://") && eps[ep+"\x00"] != nil) {
			if prev == nil {
				prev = eps[ep+"\x00"]
			}
			return fmt.Errorf("provider b2.%s uses the same endpoint %s and key as %s, so it is the same account: give it its own endpoint (for local://, its own directory) or credentials, or use %s instead of the alias",
				p.Alias, ep, config.ProviderLabel(prev.alias), config.ProviderLabel(prev.alias))
		}
		conn, err := m.connectAlias(ctx, ep, p.Alias, p.ApplicationKeyID, p.ApplicationKey.Reveal())
		if err != nil {
			return err
		}
		a.conn = conn
		pl.accounts = append(pl.accounts, a)
		eps[ep+"\x00"+conn.KeyID()] = a
		if strings.HasPrefix(ep, "local://") {
			eps[ep+"\x00"] = a
		}
	}
	seen := map[string]string{}
	for _, a := range pl.accounts {
		if a.conn.Endpoint().Kind == b2client.KindLocal {
			continue // each local:// directory is its own account (all have the emulator's id)
		}
		if prev, dup := seen[a.conn.AccountID()]; dup {
			return fmt.Errorf("providers %s and %s both reach account %s: each provider must be a different account (b2plan would plan its buckets and keys twice). Remove the alias, or give it the credentials of another account",
				config.ProviderLabel(prev), config.ProviderLabel(a.alias), a.conn.AccountID())
		}
		seen[a.conn.AccountID()] = a.alias
	}
	return nil
}

// observeAccounts reads every account for its part of d (and the listings prune needs).
func (m *Meta) observeAccounts(ctx context.Context, pl *pipeline, d *config.Desired) error {
	for _, a := range pl.accounts {
		sub := d.ForProvider(a.alias)
		req := planner.LiveRequest(sub, nil)
		if err := a.conn.Require(observeCaps(req), nil); err != nil {
			return fmt.Errorf("%s: %w", config.ProviderLabel(a.alias), err)
		}
		l, err := b2client.Observe(ctx, a.conn, req)
		if err != nil {
			return fmt.Errorf("read the account of %s: %w", config.ProviderLabel(a.alias), err)
		}
		if d.Settings.Prune || pl.destroy {
			req2 := planner.LiveRequest(sub, l)
			if pl.destroy {
				req2 = planner.DestroyRequest(sub, l)
			}
			if !reflect.DeepEqual(req2, req) {
				if l, err = b2client.Observe(ctx, a.conn, req2); err != nil {
					return fmt.Errorf("read the account of %s: %w", config.ProviderLabel(a.alias), err)
				}
			}
		}
		a.live = l
	}
	return nil
}

// runAccounts is the pipeline of a configuration with provider aliases, from connecting on.
func (m *Meta) runAccounts(ctx context.Context, pl *pipeline, in planInput, path, defaultEP string) (int, bool) {
	fail := func(err error) (int, bool) {
		m.WriteDiagnostics(m.Stderr, pl.diags, pl.desired.Files)
		return m.Errorf("%v", err), false
	}
	if err := m.connectAccounts(ctx, pl, defaultEP); err != nil {
		return fail(err)
	}
	d := pl.desired
	if err := m.observeAccounts(ctx, pl, d); err != nil {
		return fail(err)
	}
	if len(d.DataSources) > 0 {
		vals := config.DataValues{}
		var diags hcl.Diagnostics
		for _, a := range pl.accounts {
			al := a.conn.Allowed()
			acct := planner.Account{ID: a.conn.AccountID(), KeyID: a.conn.KeyID(), Capabilities: al.Capabilities, NamePrefix: al.NamePrefix}
			for _, b := range al.Buckets {
				if b.Name != "" {
					acct.Buckets = append(acct.Buckets, b.Name)
				}
			}
			v, dd := planner.ReadData(d.ForProvider(a.alias), a.live, acct)
			diags = append(diags, dd...)
			for k, x := range v {
				vals[k] = x
			}
		}
		if !hasErrors(diags) {
			d2, diags2 := config.Load(m.Path(path), config.VarInputs{Vars: in.vars, VarFiles: in.varFiles, Env: m.Env, Data: vals})
			diags = append(diags, diags2...)
			pl.desired, d = d2, d2
		}
		pl.diags = diags
		if hasErrors(diags) {
			m.WriteDiagnostics(m.Stderr, diags, d.Files)
			return ExitError, false
		}
		if err := m.observeAccounts(ctx, pl, d); err != nil {
			return fail(err)
		}
	}
	var snaps []planner.AccountSnapshot
	for _, a := range pl.accounts {
		absMinPart, partSize := a.conn.PartSizes()
		snaps = append(snaps, planner.AccountSnapshot{Provider: a.alias, Endpoint: a.conn.Endpoint().String(),
			AccountID: a.conn.AccountID(), Live: a.live, PartSize: max(partSize, absMinPart)})
	}
	pl.live = pl.accounts[0].live
	p, pdiags := planner.ComputeAccounts(d, snaps, planner.Options{Targets: in.targets, Now: time.Now(),
		SecretKeyIDs: secretfile.KeyIDs(secretFiles(d)), Destroy: pl.destroy, Replace: in.replace})
	p.Destroy = pl.destroy
	pl.plan = p
	pl.diags = append(pl.diags, pdiags...)
	return 0, true
}

// savedAccounts connects to the alias accounts a saved plan was made for, checks that each
// is the same account, and reads its current state for the staleness check.
func (m *Meta) savedAccounts(ctx context.Context, p *planner.Plan) ([]*account, error) {
	var out []*account
	for _, ref := range p.Accounts {
		ep := ref.Endpoint
		if env := strings.TrimSpace(m.Getenv(aliasEnv(ref.Provider, "ENDPOINT"))); env != "" {
			envEp, err := absLocal(env)
			if err != nil {
				return out, err
			}
			parsed, _, err := b2client.ParseEndpoint(envEp)
			if err != nil {
				return out, err
			}
			if parsed.String() != ref.Endpoint {
				return out, fmt.Errorf("the saved plan was made for the endpoint %s for provider b2.%s, but %s points to %s: refusing to apply it elsewhere; re-run plan", ref.Endpoint, ref.Provider, aliasEnv(ref.Provider, "ENDPOINT"), parsed.String())
			}
			ep = envEp
		}
		conn, err := m.connectAlias(ctx, ep, ref.Provider, "", "")
		if err != nil {
			return out, err
		}
		a := &account{alias: ref.Provider, conn: conn}
		out = append(out, a)
		if conn.AccountID() != ref.AccountID {
			return out, fmt.Errorf("the saved plan was made for account %s for provider b2.%s, but the credentials (%s) are for account %s: refusing; re-run plan",
				ref.AccountID, ref.Provider, aliasEnv(ref.Provider, "APPLICATION_KEY_ID"), conn.AccountID())
		}
		sub := p.ForProvider(ref.Provider)
		req := executor.StaleRequest(sub)
		if err := conn.Require(observeCaps(req), nil); err != nil {
			return out, fmt.Errorf("provider b2.%s: %w", ref.Provider, err)
		}
		cur, err := b2client.Observe(ctx, conn, req)
		if err != nil {
			return out, fmt.Errorf("read the account of provider b2.%s: %w", ref.Provider, err)
		}
		if err := executor.CheckStale(sub, cur); err != nil {
			return out, fmt.Errorf("provider b2.%s: %w", ref.Provider, err)
		}
		a.current = cur
	}
	return out, nil
}

// applyAccounts applies each account's part of p with its connection, the default
// provider's first; it stops at the first account that fails.
func (m *Meta) applyAccounts(ctx context.Context, p *planner.Plan, accts []*account, opts executor.Options, view applyView) (executor.Result, error) {
	var total executor.Result
	add := func(res executor.Result) {
		total.Added += res.Added
		total.Changed += res.Changed
		total.Replaced += res.Replaced
		total.Destroyed += res.Destroyed
		total.Moved += res.Moved
		total.MovedBytes += res.MovedBytes
		total.Skipped = append(total.Skipped, res.Skipped...)
		total.Replanned = append(total.Replanned, res.Replanned...)
		total.Failures = append(total.Failures, res.Failures...)
		total.Interrupted = total.Interrupted || res.Interrupted
		total.Cancelled += res.Cancelled
		total.SecretFiles = append(total.SecretFiles, res.SecretFiles...)
	}
	// Replication spans accounts: applied once every account's buckets and keys are, and
	// before the rest of each account (planner.Plan.AccountPhases).
	rp := p.ReplicationPart()
	replicate := rp.HasActions() || len(rp.Replication) > 0
	type part struct {
		a   *account
		sub *planner.Plan
	}
	var later []part
	applyPart := func(a *account, sub *planner.Plan) error {
		o := opts
		conn := a.conn
		o.List = executor.ListFunc(func(ctx context.Context, req live.Request) (*live.Live, error) {
			return b2client.Observe(ctx, conn, req)
		})
		o.ListRange, o.ForgetListed = rangeLister(conn), conn.ForgetListed
		if a.current != nil {
			o.Current = a.current
		}
		res, err := o.Apply(ctx, sub, b2client.NewMutator(conn), view)
		add(res)
		return err
	}
	for _, a := range accts {
		sub := p.ForProvider(a.alias)
		if !sub.HasActions() {
			continue
		}
		caps, buckets := applyCaps(sub)
		if err := a.conn.Require(caps, buckets); err != nil {
			return total, fmt.Errorf("%s: %w", config.ProviderLabel(a.alias), err)
		}
		if replicate {
			setup, rest := sub.AccountPhases()
			if rest.HasActions() {
				later = append(later, part{a, rest})
			}
			if !setup.HasActions() {
				continue
			}
			sub = setup
		}
		if err := applyPart(a, sub); err != nil {
			return total, err
		}
	}
	if replicate {
		o := opts
		o.Accounts = map[string]executor.Mutator{}
		for _, a := range accts {
			if err := a.conn.Require(planner.ReplicationCaps(p, a.alias), nil); err != nil {
				return total, fmt.Errorf("%s: %w", config.ProviderLabel(a.alias), err)
			}
			o.Accounts[a.alias] = b2client.NewMutator(a.conn)
		}
		res, err := o.Apply(ctx, rp, o.Accounts[""], view)
		add(res)
		if err != nil {
			return total, err
		}
	}
	for _, pt := range later {
		if err := applyPart(pt.a, pt.sub); err != nil {
			return total, err
		}
	}
	return total, nil
}

// accountOutputIDs reads, from every account, the ids the unknown outputs of p need.
func accountOutputIDs(ctx context.Context, p *planner.Plan, accts []*account) (map[string]string, error) {
	ids := map[string]string{}
	for _, a := range accts {
		l, err := b2client.Observe(ctx, a.conn, live.Request{Buckets: true, Keys: p.OutputsNeedKeys()})
		if err != nil {
			return ids, err
		}
		for k, v := range planner.OutputIDsFor(p, a.alias, l) {
			ids[k] = v
		}
	}
	return ids, nil
}

// checkAccountSecretFiles runs checkSecretFiles for each account's part of p (accts nil: the
// single account of conn).
func (m *Meta) checkAccountSecretFiles(ctx context.Context, conn *b2client.Conn, accts []*account, p *planner.Plan, overwrite bool) bool {
	if accts == nil {
		return m.checkSecretFiles(ctx, conn, p, overwrite)
	}
	ok := true
	for _, a := range accts {
		ok = m.checkSecretFiles(ctx, a.conn, p.ForProvider(a.alias), overwrite) && ok
	}
	return ok
}
