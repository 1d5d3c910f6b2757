package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/oauthd/oauthd/cmd/internal/settings"
	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"
)

// cliSettings are the admin verbs': Redis for the direct path, endpoint for
// the remote one.
func cliSettings() []setting {
	return append([]setting{
		{Key: "endpoint", Default: "", Usage: "base URL of a running oauthd whose admin API to use (admin credential in OAUTHD_ADMIN_KEY); without it, commands work on the Redis of --redis-url"},
	}, append(jwtSettings(), redisSettings()...)...)
}

// cli carries what every admin verb needs.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	json           bool
}

func (c *cli) command(cmd *cobra.Command) *cobra.Command {
	addGlobalFlags(cmd, cliSettings())
	cmd.Flags().BoolVar(&c.json, "json", false, "print JSON instead of a table")
	return cmd
}

// addGlobalFlags adds the flags of the settings a verb shares with the
// others (where Redis or the running server is, the JWT keys, the log,
// --config), which its help lists apart, after its own.
func addGlobalFlags(cmd *cobra.Command, list []setting) {
	addFlags(cmd.Flags(), list)
	for _, s := range append(list, setting{Key: "config"}) {
		_ = cmd.Flags().SetAnnotation(settings.Flag(s.Key), globalFlag, []string{"true"})
	}
	cmd.SetUsageFunc(usageWithGlobals)
}

// globalFlag marks the flags addGlobalFlags added.
const globalFlag = "oauthd-global"

// usageWithGlobals is cobra's usage of a verb with the flags every verb
// shares (globalFlag) under "Global Flags", after the verb's own: its
// --help shows first what the verb itself takes.
func usageWithGlobals(cmd *cobra.Command) error {
	own := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
	global := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if _, shared := f.Annotations[globalFlag]; shared {
			global.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	cmd.InheritedFlags().VisitAll(global.AddFlag)
	w := cmd.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", cmd.UseLine())
	if cmd.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	if own.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", own.FlagUsages())
	}
	if global.HasAvailableFlags() {
		fmt.Fprintf(w, "\nGlobal Flags:\n%s", global.FlagUsages())
	}
	return nil
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// done reports a verb that returns nothing but success: the sentence for
// people, or {"<what>": id} for scripts.
func (c *cli) done(what, id, sentence string) error {
	if c.json {
		return c.printJSON(map[string]string{what: id})
	}
	_, err := fmt.Fprintln(c.stdout, sentence)
	return err
}

// shownOnce is printed under a credential in the table form: there is no
// way to see it again.
const shownOnce = "\nThe secret above is shown only now: oauthd keeps its SHA-256 digest. Store it in your secret manager.\n"

// printRows prints key/value rows in two aligned columns.
func (c *cli) printRows(rows [][2]string) error {
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\n", r[0], r[1])
	}
	return w.Flush()
}

// checkScopeList catches the commonest mistake with --scopes: a
// comma-separated list, which the scope grammar can never accept.
func checkScopeList(flag string, list []string) error {
	for _, s := range list {
		if strings.Contains(s, ",") {
			return fmt.Errorf("--%s %q: scopes are separated by spaces, not commas: --%s %q", flag, s, flag,
				strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }), " "))
		}
	}
	return nil
}

func appsCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "Manage applications (OAuth clients)",
		Long: `Manage applications. With --endpoint (OAUTHD_ENDPOINT) the commands use a
running server's admin API, authenticating with OAUTHD_ADMIN_KEY; otherwise
they work on the Redis given by --redis-url (OAUTHD_REDIS_URL), which is how
the first applications are made before any server runs. Both paths validate
the same way and write the same audit events.`,
	}
	cmd.AddCommand(c.createCommand(), c.listCommand(), c.getCommand(), c.updateCommand(), c.deleteCommand(),
		c.resetSecretCommand(), c.deleteSecretCommand(), c.revokeTokensCommand(), c.importCommand(), c.exportCommand())
	return cmd
}

func (c *cli) createCommand() *cobra.Command {
	var in adminapi.NewApplicationRequest
	var auth authFlags
	cmd := &cobra.Command{
		Use: `create --name NAME --scopes "sms groups" [--lifetime 24h|168h|never] [--allow-ip CIDR]... [--quota 1000/1h|unlimited] [--introspection-quota N/D] [--quota-mode enforce|monitor] ` +
			`[--auth-method METHOD [--jwks-file F] [--jwk JSON]... [--public-key-file PEM]... [--jwks-uri URL] [--tls-subject-dn DN] [--tls-san-dns|--tls-san-uri|--tls-san-ip|--tls-san-email V] [--trusted-issuer URL --trusted-subject SUB --trusted-audience AUD [--trusted-jwks-uri URL]]]`,
		Short: "Create an application and print it with its secret (shown this once)",
		Long: `Create an application and print it with its client_secret (as JSON with
--json). The secret is shown this once: only its SHA-256 digest is stored.
An application authenticating with keys or a certificate (--auth-method
private_key_jwt, tls_client_auth, self_signed_tls_client_auth) has no secret.`,
		Example: `  oauthd apps create --name billing --scopes sms --auth-method private_key_jwt --public-key-file billing.pub.pem
  oauthd apps create --name billing --scopes sms --auth-method tls_client_auth --tls-subject-dn "CN=billing,O=Example"
  oauthd apps create --name billing --scopes sms --auth-method private_key_jwt \
    --trusted-issuer https://kubernetes.default.svc.cluster.local \
    --trusted-subject system:serviceaccount:sms:billing --trusted-audience https://auth.example.com`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		if err := checkScopeList("scopes", in.Scopes); err != nil {
			return err
		}
		var err error
		if in.ClientAuth, err = auth.clientAuth(); err != nil {
			return err
		}
		app, err := api.CreateApplication(ctx, in)
		if err != nil {
			return err
		}
		if err := c.printApp(app); err != nil || c.json || app.ClientSecret == "" {
			return err
		}
		_, err = fmt.Fprint(c.stdout, shownOnce)
		return err
	})
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "application name (required)")
	f.StringVar(&in.Description, "description", "", "what the application is for")
	f.StringVar(&in.Owner, "owner", "", "the account it belongs to (introspection returns it; delegated administrators manage only their own owner's)")
	f.StringToStringVar(&in.Metadata, "metadata", nil, "key=value to store with it; repeatable")
	f.StringArrayVar(&in.Scopes, "scopes", nil, `scopes it may request, space-separated ("sms groups"); repeatable`)
	f.StringVar(&in.TokenLifetime, "lifetime", "24h", "token lifetime: a duration (24h, 168h), days (7d) or never")
	f.StringArrayVar(&in.IPAllowlist, "allow-ip", nil, "CIDR or address allowed to get tokens; repeatable; none allows any address")
	f.StringVar(&in.TokenFormat, "token-format", "opaque", "opaque, or jwt for signed JWT access tokens (RFC 9068) resource servers can check without asking oauthd")
	f.StringArrayVar(&in.Audiences, "audience", nil, "a resource server its tokens are for (its URI or name, the tokens' aud); repeatable; none: any")
	quotaFlags(f, &in.TokenQuota, &in.IntrospectionQuota, &in.QuotaMode)
	bindingFlags(f, &in.DPoPBound, &in.Profile)
	auth.add(f)
	return c.command(cmd)
}

// quotaFlags are the flags of an application's own quotas, for create and
// update.
func quotaFlags(f *pflag.FlagSet, token, introspection, mode *string) {
	f.StringVar(token, "quota", "", `its own token quota: N/duration (1000/1h), unlimited, or "" for the server's limits.issue`)
	f.StringVar(introspection, "introspection-quota", "", `as a resource server, its own introspection budget: N/duration (50000/1m), unlimited, or "" for limits.introspect`)
	f.StringVar(mode, "quota-mode", "", `enforce (429 past a quota), monitor (let through, logged and counted), or "" for limits.quota_mode`)
}

func (c *cli) listCommand() *cobra.Command {
	var filter adminapi.ApplicationFilter
	var cursor, sort string
	var limit int
	cmd := &cobra.Command{Use: "list [--search TEXT] [--owner ACCOUNT] [--sort created|name|-created|-name]", Short: "List applications (never their secrets)", Args: cobra.NoArgs}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		// "-name" is by name, descending.
		filter.Sort, filter.Desc = strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
		page, err := api.ListApplications(ctx, filter, limit, cursor)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(page)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "CLIENT_ID\tNAME\tOWNER\tSCOPES\tLIFETIME\tENABLED\tAUTH\tCREATED")
		for _, a := range page.Applications {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", a.ClientID, a.Name, a.Owner, strings.Join(a.Scopes, " "),
				a.TokenLifetime, a.Enabled, cmp.Or(a.TokenEndpointAuthMethod, "secret"), a.CreatedAt.Format(time.RFC3339))
		}
		if page.Capped {
			fmt.Fprintln(w, "\nthe search matches more than 2,000 applications: these are among the first found; narrow it")
		}
		if page.PrevCursor != "" {
			fmt.Fprintf(w, "\nprevious: --before %s\n", page.PrevCursor)
		}
		if page.NextCursor != "" {
			fmt.Fprintf(w, "\nmore: --cursor %s\n", page.NextCursor)
		}
		return w.Flush()
	})
	cmd.Flags().StringVar(&filter.Search, "search", "", "only applications with a word of their name, or their client ID, starting with this (over all applications)")
	cmd.Flags().StringVar(&filter.Name, "name", "", "the older name of --search")
	cmd.Flags().StringVar(&filter.Owner, "owner", "", "only applications of this owner (account id)")
	cmd.Flags().StringVar(&sort, "sort", "created", "order: created or name; a leading - reverses it (-created: newest first)")
	cmd.Flags().StringVar(&filter.Before, "before", "", "the page before this cursor, as printed after a page")
	cmd.Flags().IntVar(&limit, "limit", 50, "page size (1 to 500)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "page to start at, as printed after the previous page")
	return c.command(cmd)
}

func (c *cli) printApp(a adminapi.Application) error {
	if c.json {
		return c.printJSON(a)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s\t%s\n", k, v) }
	row("client_id", a.ClientID)
	if a.ClientSecret != "" {
		row("client_secret", a.ClientSecret)
	}
	row("name", a.Name)
	row("description", a.Description)
	row("scopes", strings.Join(a.Scopes, " "))
	row("token_lifetime", a.TokenLifetime)
	row("ip_allowlist", strings.Join(a.IPAllowlist, " "))
	row("token_quota", cmp.Or(a.TokenQuota, "default"))
	row("introspection_quota", cmp.Or(a.IntrospectionQuota, "default"))
	row("quota_mode", cmp.Or(a.QuotaMode, "default"))
	row("dpop_bound_access_tokens", fmt.Sprint(a.DPoPBound))
	row("profile", cmp.Or(a.Profile, "default"))
	row("enabled", fmt.Sprint(a.Enabled))
	for _, r := range authRows(a) {
		row(r[0], r[1])
	}
	row("created_at", a.CreatedAt.Format(time.RFC3339))
	row("updated_at", a.UpdatedAt.Format(time.RFC3339))
	row("last_used_at", timeOrNever(a.LastUsedAt))
	row("tokens_issued", fmt.Sprint(a.TokensIssued))
	for _, s := range a.Secrets {
		row("secret "+s.ID, fmt.Sprintf("created %s, expires %s, last used %s",
			s.CreatedAt.Format(time.RFC3339), timeOrNever(s.ExpiresAt), timeOrNever(s.LastUsedAt)))
	}
	return w.Flush()
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func (c *cli) getCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "get CLIENT_ID", Short: "Show an application, its secrets and when they were last used", Args: clientIDArgs(1)}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		a, err := api.GetApplication(ctx, args[0])
		if err != nil {
			return err
		}
		return c.printApp(a)
	})
	return c.command(cmd)
}

func (c *cli) updateCommand() *cobra.Command {
	var name, desc, lifetime, owner, format, quota, introQuota, quotaMode string
	var dpopBound bool
	var profile string
	var audiences []string
	var clearAud bool
	var meta map[string]string
	var scopeList, allow []string
	var clearAllow, clearMeta, enable, disable bool
	var auth authFlags
	cmd := &cobra.Command{
		Use: "update CLIENT_ID [--name N] [--description D] [--owner O] [--metadata K=V]... [--scopes S] [--lifetime L] [--allow-ip CIDR]... [--clear-allow-ip] [--quota Q] [--introspection-quota Q] [--quota-mode M] [--enable|--disable] " +
			"[--auth-method METHOD] [--jwks-file F] [--jwk JSON]... [--public-key-file PEM]... [--jwks-uri URL] [--tls-subject-dn DN] [--tls-san-* V] [--trusted-issuer URL --trusted-subject SUB --trusted-audience AUD [--trusted-jwks-uri URL]]",
		Short: "Change an application; narrowed scopes and disabling reach issued tokens at once",
		Long: `Change an application. The authentication flags replace its whole
authentication setting: the method (kept without --auth-method) and its keys,
URL or certificate subject, so 'update ID --public-key-file new.pem' rotates
its keys (give the old and the new key while daemons move over). Moving to a
key or certificate method removes every secret; moving back to a secret
method prints a new secret, shown this once.`,
		Args: clientIDArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		var p adminapi.ApplicationPatchRequest
		f := cmd.Flags()
		if f.Changed("name") {
			p.Name = &name
		}
		if f.Changed("description") {
			p.Description = &desc
		}
		if f.Changed("scopes") {
			if err := checkScopeList("scopes", scopeList); err != nil {
				return err
			}
			p.Scopes = &scopeList
		}
		if f.Changed("lifetime") {
			p.TokenLifetime = &lifetime
		}
		if f.Changed("owner") {
			p.Owner = &owner
		}
		if f.Changed("token-format") {
			p.TokenFormat = &format
		}
		if f.Changed("quota") {
			p.TokenQuota = &quota
		}
		if f.Changed("introspection-quota") {
			p.IntrospectionQuota = &introQuota
		}
		if f.Changed("quota-mode") {
			p.QuotaMode = &quotaMode
		}
		switch {
		case clearAud && f.Changed("audience"):
			return errors.New("--audience and --clear-audiences contradict each other")
		case clearAud:
			p.Audiences = &[]string{}
		case f.Changed("audience"):
			p.Audiences = &audiences
		}
		switch {
		case clearMeta && f.Changed("metadata"):
			return errors.New("--metadata and --clear-metadata contradict each other")
		case clearMeta:
			p.Metadata = &map[string]string{}
		case f.Changed("metadata"):
			p.Metadata = &meta
		}
		switch {
		case clearAllow && f.Changed("allow-ip"):
			return errors.New("--allow-ip and --clear-allow-ip contradict each other")
		case clearAllow:
			p.IPAllowlist = &[]string{}
		case f.Changed("allow-ip"):
			p.IPAllowlist = &allow
		}
		switch {
		case enable && disable:
			return errors.New("--enable and --disable contradict each other")
		case enable, disable:
			p.Enabled = &enable
		}
		bindingPatch(f, &p, dpopBound, profile)
		if auth.given(f) {
			var err error
			if p.ClientAuth, err = auth.clientAuth(); err != nil {
				return err
			}
		}
		if reflect.ValueOf(p).IsZero() {
			return errors.New("nothing to change: give at least one of --name, --description, --owner, --token-format, --audience, --clear-audiences, --metadata, --clear-metadata, --scopes, --lifetime, --allow-ip, --clear-allow-ip, --quota, --introspection-quota, --quota-mode, --dpop-bound, --profile, --enable, --disable, --auth-method and its keys")
		}
		a, err := api.UpdateApplication(ctx, args[0], p)
		if err != nil {
			return err
		}
		if err := c.printApp(a); err != nil || c.json || a.ClientSecret == "" {
			return err
		}
		_, err = fmt.Fprint(c.stdout, shownOnce)
		return err
	})
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&desc, "description", "", "new description")
	f.StringVar(&owner, "owner", "", "the account it belongs to from now on (\"\" for none)")
	f.StringToStringVar(&meta, "metadata", nil, "its metadata from now on (replaces it): key=value, repeatable")
	f.BoolVar(&clearMeta, "clear-metadata", false, "remove all its metadata")
	f.StringVar(&format, "token-format", "", "opaque or jwt, for tokens issued from now on")
	f.StringArrayVar(&audiences, "audience", nil, "the audiences from now on (replaces them): a resource server's URI or name; repeatable")
	f.BoolVar(&clearAud, "clear-audiences", false, "remove the audiences: tokens for any resource server")
	f.StringArrayVar(&scopeList, "scopes", nil, "the scopes it may request from now on (replaces the list)")
	f.StringVar(&lifetime, "lifetime", "", "token lifetime for new tokens: a duration, days (7d) or never")
	f.StringArrayVar(&allow, "allow-ip", nil, "the allowlist from now on (replaces it); repeatable")
	f.BoolVar(&clearAllow, "clear-allow-ip", false, "empty the allowlist: any address may get tokens")
	quotaFlags(f, &quota, &introQuota, &quotaMode)
	bindingFlags(f, &dpopBound, &profile)
	f.BoolVar(&enable, "enable", false, "enable the application")
	f.BoolVar(&disable, "disable", false, "disable it: no new tokens, and its tokens stop working at once")
	auth.add(f)
	return c.command(cmd)
}

func (c *cli) deleteCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "delete CLIENT_ID", Short: "Delete an application; its tokens stop working at once", Args: clientIDArgs(1)}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := api.DeleteApplication(ctx, args[0]); err != nil {
			return err
		}
		return c.done("deleted", args[0], "deleted "+args[0])
	})
	return c.command(cmd)
}

func (c *cli) resetSecretCommand() *cobra.Command {
	var grace string
	cmd := &cobra.Command{
		Use:   "reset-secret CLIENT_ID [--grace 1h]",
		Short: "Issue a new secret (shown once); the old one stops at once or after --grace",
		Args:  clientIDArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		r, err := api.ResetSecret(ctx, args[0], adminapi.SecretResetRequest{GracePeriod: grace})
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(r)
		}
		rows := [][2]string{{"client_id", r.ClientID}, {"secret_id", r.SecretID}, {"client_secret", r.ClientSecret}}
		for _, s := range r.Secrets {
			rows = append(rows, [2]string{"secret " + s.ID, "expires " + timeOrNever(s.ExpiresAt)})
		}
		if err := c.printRows(rows); err != nil {
			return err
		}
		_, err = fmt.Fprint(c.stdout, shownOnce)
		return err
	})
	cmd.Flags().StringVar(&grace, "grace", "", "keep the old secret working this long (e.g. 1h) so daemons can roll over; at most admin.max_grace")
	return c.command(cmd)
}

func (c *cli) deleteSecretCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "delete-secret CLIENT_ID SECRET_ID", Short: "Drop one secret at once (ids are in 'apps get')", Args: clientIDArgs(2)}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := api.DeleteSecret(ctx, args[0], args[1]); err != nil {
			return err
		}
		return c.done("deleted_secret", args[1], fmt.Sprintf("deleted secret %s of %s", args[1], args[0]))
	})
	return c.command(cmd)
}

func (c *cli) revokeTokensCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "revoke-tokens CLIENT_ID", Short: "Revoke every token of the application at once", Args: clientIDArgs(1)}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := api.RevokeTokens(ctx, args[0]); err != nil {
			return err
		}
		return c.done("revoked_tokens_of", args[0], "revoked every token of "+args[0])
	})
	return c.command(cmd)
}

func eventsCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	var clientID, kind, cursor string
	var limit int
	var security bool
	cmd := &cobra.Command{Use: "events [--security] [--client-id ID] [--kind KIND]", Short: "Show the audit log's changes (or, with --security, its security events), newest first", Args: cobra.NoArgs}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		f := adminapi.EventFilter{ClientID: clientID, Kind: kind}
		if security {
			f.Log = adminapi.LogSecurity
		}
		page, err := api.ListEvents(ctx, f, limit, cursor)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(page)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TIME\tKIND\tACTOR\tCLIENT_ID\tIP\tDETAIL")
		for _, e := range page.Events {
			detail, _ := json.Marshal(e.Detail)
			if e.Detail == nil {
				detail = nil
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, e.Actor, e.ClientID, e.IP, detail)
		}
		if page.NextCursor != "" {
			fmt.Fprintf(w, "\nmore: --cursor %s\n", page.NextCursor)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if len(page.Events) == 0 && kind != "" {
			unknownKindHint(c.stderr, kind)
		}
		return nil
	})
	cmd.Flags().StringVar(&clientID, "client-id", "", "only events of this application")
	cmd.Flags().BoolVar(&security, "security", false, "list the security events (failed authentications, lock-outs, spent quotas) instead of the changes")
	cmd.Flags().StringVar(&kind, "kind", "", "only events of this kind, e.g. secret.reset, or with --security client.auth_failed")
	cmd.Flags().IntVar(&limit, "limit", 50, "page size (1 to 500)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "page to start at, as printed after the previous page")
	return c.command(cmd)
}

// unknownKindHint says, under an empty list, that the --kind asked for is
// none oauthd writes, and which it most likely meant. The admin API lists
// any kind (a newer replica may write kinds this one does not know), so
// a misspelt one lists nothing without an error.
func unknownKindHint(w io.Writer, kind string) {
	kinds := append(slices.Clone(apps.AdminEventKinds), apps.SecurityEventKinds...)
	if slices.Contains(kinds, kind) {
		return
	}
	msg := fmt.Sprintf("no events: oauthd writes no events of kind %q", kind)
	if near := settings.Nearest(kind, kinds); near != "" {
		msg += "; did you mean " + near + "?"
	}
	fmt.Fprintf(w, "%s (the kinds: %s)\n", msg, strings.Join(kinds, ", "))
}

func tokensCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{Use: "tokens", Short: "List and revoke access tokens and API keys"}
	var limit int
	list := &cobra.Command{Use: "list CLIENT_ID", Short: "List an application's live tokens and API keys (never the credentials)", Args: clientIDArgs(1)}
	list.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		l, err := api.ListTokens(ctx, args[0], limit)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "JTI\tKIND\tNAME\tSCOPES\tISSUED\tEXPIRES")
		for _, t := range l.Tokens {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.JTI, t.Kind, t.Name, strings.Join(t.Scopes, " "),
				t.IssuedAt.Format(time.RFC3339), timeOrNever(t.ExpiresAt))
		}
		if l.More {
			fmt.Fprintf(w, "\n(more than %d; raise --limit)\n", limit)
		}
		return w.Flush()
	})
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (1 to 500), soonest to expire first")
	revoke := &cobra.Command{Use: "revoke JTI", Short: "Revoke one token or API key by its jti", Args: exactArgs(1)}
	revoke.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := api.RevokeToken(ctx, args[0]); err != nil {
			return err
		}
		return c.done("revoked", args[0], "revoked "+args[0])
	})
	cmd.AddCommand(c.command(list), c.command(revoke))
	return cmd
}

func apiKeysCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{Use: "api-keys", Short: "Manage API keys (long-lived, revocable credentials for X-API-Key)"}
	var in adminapi.NewAPIKeyRequest
	create := &cobra.Command{
		Use:   "create CLIENT_ID --name NAME [--scopes S] [--expires-in 720h|30d|never] [--json]",
		Short: "Create an API key for an application and print it (shown this once)",
		Args:  clientIDArgs(1),
	}
	create.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := checkScopeList("scopes", in.Scopes); err != nil {
			return err
		}
		k, err := api.CreateAPIKey(ctx, args[0], in)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(k)
		}
		if err := c.printRows([][2]string{{"jti", k.JTI}, {"name", k.Name}, {"scopes", strings.Join(k.Scopes, " ")},
			{"expires_at", timeOrNever(k.ExpiresAt)}, {"api_key", k.Key}}); err != nil {
			return err
		}
		_, err = fmt.Fprint(c.stdout, strings.Replace(shownOnce, "secret", "API key", 1))
		return err
	})
	f := create.Flags()
	f.StringVar(&in.Name, "name", "", "what the key is for")
	f.StringArrayVar(&in.Scopes, "scopes", nil, "a subset of the application's scopes; default all of them")
	f.StringVar(&in.ExpiresIn, "expires-in", "", "lifetime (720h, 30d) or never (default)")
	cmd.AddCommand(c.command(create))
	return cmd
}

func keysCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{Use: "keys", Short: "List, rotate and reseal the JWT signing keys (for applications whose token_format is jwt)"}
	list := &cobra.Command{Use: "list", Short: "List the published signing keys (never their private parts)", Args: cobra.NoArgs}
	list.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		l, err := api.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KID\tALG\tSIGNS_FROM\tRETIRES_AT")
		for _, k := range l.Keys {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.SignsFrom.Format(time.RFC3339), timeOrNever(k.RetiresAt))
		}
		return w.Flush()
	})
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key: published now, signing after jwt.publish_delay; the current one retires when its tokens have expired",
		Args:  cobra.NoArgs,
	}
	rotate.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		k, err := api.RotateSigningKey(ctx)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(k)
		}
		return c.printRows([][2]string{{"kid", k.KID}, {"alg", k.Alg}, {"signs_from", k.SignsFrom.Format(time.RFC3339)}})
	})
	cmd.AddCommand(c.command(list), c.command(rotate))
	cmd.AddCommand(resealCommand(c))
	return cmd
}

// clientIDArgs is exactArgs(n), the first a client_id: one that cannot
// be an id (empty, or with a character ids never have) is refused here in
// the operator's words, instead of travelling to the admin API as a path
// ("no such admin endpoint" for an empty one, a percent-escaped id in a
// not-found).
func clientIDArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := exactArgs(n)(cmd, args); err != nil {
			return err
		}
		if !credential.ValidClientID(args[0]) {
			return fmt.Errorf("%q is not a client_id: ids are 1 to %d letters, digits, '-', '.' or '~' ('oauthd apps list' shows them)", args[0], credential.MaxClientID)
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs(n) naming what the verb takes, from its
// Use's upper-case words after the name ("CLIENT_ID SECRET_ID"), rather
// than "accepts 1 arg(s), received 0".
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		var want []string
		for _, w := range strings.Fields(cmd.Use)[1:] {
			if w != strings.ToUpper(w) || strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "(") {
				break
			}
			want = append(want, w)
		}
		msg := fmt.Sprintf("'%s' takes %s, got %d argument(s)", cmd.CommandPath(), strings.Join(want, " "), len(args))
		if slices.Contains(want, "CLIENT_ID") {
			msg += "; 'oauthd apps list' shows the client_ids"
		}
		return errors.New(msg)
	}
}
