package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/b2plan/b2plan/b2client"
	"github.com/b2plan/b2plan/live"
	"github.com/b2plan/b2plan/planner"
	"github.com/b2plan/b2plan/secretfile"
)

// keyCheckTimeout bounds the check of one secret file's key.
const keyCheckTimeout = 30 * time.Second

// checkSecretFiles runs before apply changes anything, for every secret
// file the plan will write (keys it creates or replaces):
//   - it refuses (error, exit 1) to overwrite a file that holds the secret
//     of another key that is still live, or that is not a secret file at
//     all, unless overwrite (-overwrite-secret-files) is set. The key being
//     replaced, and keys the plan deletes, may be overwritten: that is what
//     a replacement does;
//   - it warns when the file lies in a git work tree and is not ignored.
//
// It prints every problem and reports whether apply may go on.
func (m *Meta) checkSecretFiles(ctx context.Context, conn *b2client.Conn, p *planner.Plan, overwrite bool) bool {
	deleted := map[string]bool{}
	for _, ch := range p.Changes {
		if ch.Type == "key" && ch.Key != nil && ch.Action == planner.Delete {
			deleted[ch.Key.OldID] = true
		}
	}
	var accountKeys map[string]bool // this account's key ids, listed once
	ok := true
	for _, ch := range p.Changes {
		if ch.Type != "key" || ch.Key == nil || ch.Key.SecretFile == "" || (ch.Action != planner.Create && ch.Action != planner.Replace) {
			continue
		}
		path := ch.Key.SecretFile
		if secretfile.GitExposed(ctx, path) {
			fmt.Fprintf(m.Stderr, "Warning: %s: secret file %s is inside a git work tree and is not ignored by git: add it to .gitignore so that the secret is never committed.\n", ch.Address, path)
		}
		if overwrite {
			continue
		}
		c, err := secretfile.Read(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			m.Errorf("%s: refusing to overwrite %s: %v. Move the file away, choose another secret_file, or pass -overwrite-secret-files.", ch.Address, path, err)
			ok = false
			continue
		case c.KeyID == ch.Key.OldID || deleted[c.KeyID]:
			continue // the key this apply replaces or deletes
		}
		live, err := m.secretKeyLive(ctx, conn, c, &accountKeys)
		switch {
		case err != nil:
			m.Errorf("%s: refusing to overwrite %s: it holds the secret of key %s, and whether that key is still live cannot be told (%v). Point secret_file elsewhere, or pass -overwrite-secret-files if that key is no longer needed.", ch.Address, path, c.KeyID, err)
			ok = false
		case live:
			m.Errorf("%s: refusing to overwrite %s: it holds the secret of key %s, which is still live, and writing %s's secret there would lose it. Point secret_file elsewhere, delete key %s if it is no longer needed, or pass -overwrite-secret-files.", ch.Address, path, c.KeyID, ch.Address, c.KeyID)
			ok = false
		}
	}
	return ok
}

// secretKeyLive reports whether the key a secret file holds still exists:
// it is a key of this account, or (remote endpoints) its credentials still
// authorize at the endpoint, which on B2 finds a live key of any account.
// A local:// endpoint holds one account, so its listing decides.
func (m *Meta) secretKeyLive(ctx context.Context, conn *b2client.Conn, c secretfile.Contents, accountKeys *map[string]bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, keyCheckTimeout)
	defer cancel()
	if *accountKeys == nil && conn.Allowed().Has("listKeys") {
		l, err := b2client.Observe(ctx, conn, live.Request{Keys: true})
		if err != nil {
			return false, fmt.Errorf("listing the account's keys: %w", err)
		}
		*accountKeys = map[string]bool{}
		for _, k := range l.Keys {
			(*accountKeys)[k.ID] = true
		}
	}
	if (*accountKeys)[c.KeyID] {
		return true, nil
	}
	ep := conn.Endpoint()
	if ep.Kind == b2client.KindLocal {
		if *accountKeys == nil {
			return false, errors.New("the key in use may not list keys (listKeys)")
		}
		return false, nil
	}
	if c.Secret == "" {
		return false, errors.New("the file holds no secret to try")
	}
	other, err := b2client.Connect(ctx, b2client.Config{Endpoint: ep.String(), KeyID: c.KeyID, Key: c.Secret,
		Getenv: func(string) string { return "" }})
	if err == nil {
		other.Close()
		return true, nil
	}
	var be *b2client.Error
	if errors.As(err, &be) && be.Status == 401 {
		return false, nil // B2 no longer knows the key
	}
	return false, err
}
