package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server/admin"
	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// migrationFile is what `apps export` writes and `apps import --file`
// reads: the applications, each as PUT /admin/v1/applications/{id} takes
// it (adminapi.ExportedApplication, which grows with the import request:
// a new field of an application is exported and imported with no change
// here, and is optional, so older files still import).
//
// Version 2, written now, holds every field (the client authentication
// method and keys of issue 18 too), enabled, and the secrets as oauthd
// stores them (secret_digests: id, sha256, created_at, expires_at, and a
// client_secret_jwt application's sealed copy),
// so a restore or a move into another Redis keeps every daemon working;
// exported --without-secrets it holds none. Version 1 (no "version") is
// what earlier versions exported and what a Hydra or Keycloak client list
// converts to (docs/operations.md): the same entries, with client_secret
// in clear. A file of a later version is refused, not half-read.
type migrationFile struct {
	Version int `json:"version,omitempty"`
	// Sensitive and Comment warn whoever opens the file that it holds
	// secret digests.
	Sensitive    bool                           `json:"sensitive,omitempty"`
	Comment      string                         `json:"comment,omitempty"`
	Applications []adminapi.ExportedApplication `json:"applications"`
}

// migrationVersion is the format `apps export` writes and the newest
// `apps import` reads.
const migrationVersion = 2

// sensitiveComment is the comment of an export that holds digests.
const sensitiveComment = "Sensitive: this file holds the SHA-256 digests of the applications' client secrets (and, for client_secret_jwt applications, the secrets sealed with the deployment's sealing key), with which anyone can check a guessed secret offline and set these applications up on another server. Keep it as you keep a Redis backup (oauthd writes it with mode 0600), and delete it when it has served. 'oauthd apps export --without-secrets' writes one without them for sharing."

// importResult is one line of `apps import`'s report.
type importResult struct {
	ClientID string `json:"client_id"`
	Result   string `json:"result"` // imported, exists or invalid
	Error    string `json:"error,omitempty"`
	// ClientSecret is the new secret of an application imported with
	// --reset-secrets, shown this once.
	ClientSecret string `json:"client_secret,omitempty"`
}

func (c *cli) importCommand() *cobra.Command {
	var file, secretFile string
	var resetSecrets bool
	var in adminapi.ImportApplicationRequest
	var auth authFlags
	cmd := &cobra.Command{
		Use:   "import (CLIENT_ID --name NAME --scopes S (--secret-file FILE | --auth-method METHOD ...) | --file APPS.json [--reset-secrets])",
		Short: "Create applications with client IDs and secrets brought from another server, or from an export",
		Long: `Create an application under a given client ID with the secret its daemons
already use, so they move from Hydra, Keycloak or another server without new
credentials. Only the secret's SHA-256 digest is stored.

One application: the secret is read from --secret-file (- for stdin), never
from the command line, where it would land in shell history. An application
authenticating with keys or a certificate (--auth-method and its flags, as
for create) brings no secret.

Many: --file (- for stdin) holds what 'oauthd apps export' writes, every
field of each application and its secrets' digests, so a backup restores
and a move into another Redis keeps every daemon's secret working (importing
digests needs an admin key, not a delegated token). A file made by hand,
from Hydra or Keycloak, holds {"applications": [{"client_id",
"client_secret", "name", "scopes", ...}]} with each secret in clear.
Each application is imported on its own; an existing client ID is reported
and left alone. The command fails if any was not imported.

An application with no secret in the file (an export made with
--without-secrets) could not authenticate: such a file is refused, and
nothing imported, unless --reset-secrets is given, which imports those
applications with new secrets, printed once, that their daemons must then
be given.`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		var list []adminapi.ExportedApplication
		switch {
		case file != "" && len(args) == 0:
			var err error
			if list, err = readMigrationFile(cmd.InOrStdin(), file, maxMigrationFile); err != nil {
				return err
			}
		case file == "" && len(args) == 1:
			var err error
			if in.ClientAuth, err = auth.clientAuth(); err != nil {
				return err
			}
			// An application authenticating with keys or a certificate
			// brings no secret.
			if (store.ClientAuth{Method: in.TokenEndpointAuthMethod}).UsesSecret() {
				if secretFile == "" {
					return errors.New("give the secret in --secret-file (- for stdin)")
				}
				secret, err := readSecret(cmd.InOrStdin(), secretFile)
				if err != nil {
					return err
				}
				in.ClientSecret = secret
			}
			list = []adminapi.ExportedApplication{{ClientID: args[0], ImportApplicationRequest: in}}
		default:
			return errors.New("give either a CLIENT_ID (with --name, --scopes and --secret-file) or --file")
		}
		generated, err := giveSecrets(list, file, resetSecrets)
		if err != nil {
			return err
		}
		return c.importAll(ctx, api, list, generated)
	})
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "JSON file of applications to import, as 'apps export' writes it (- for stdin)")
	f.BoolVar(&resetSecrets, "reset-secrets", false, "give the applications of --file that carry no secret a new one, printed once")
	f.StringVar(&secretFile, "secret-file", "", "file holding the client secret (- for stdin)")
	f.StringVar(&in.Name, "name", "", "application name")
	f.StringVar(&in.Description, "description", "", "what the application is for")
	f.StringArrayVar(&in.Scopes, "scopes", nil, `scopes it may request, space-separated ("sms groups"); repeatable`)
	f.StringVar(&in.TokenLifetime, "lifetime", "24h", "token lifetime: a duration (24h, 168h), days (7d) or never")
	f.StringArrayVar(&in.IPAllowlist, "allow-ip", nil, "CIDR or address allowed to get tokens; repeatable")
	quotaFlags(f, &in.TokenQuota, &in.IntrospectionQuota, &in.QuotaMode)
	auth.add(f)
	return c.command(cmd)
}

// giveSecrets refuses, before anything is imported, applications that
// carry no secret, unless reset gives them new ones; generated says which.
func giveSecrets(list []adminapi.ExportedApplication, file string, reset bool) (generated []bool, err error) {
	generated = make([]bool, len(list))
	bare := 0
	for i, a := range list {
		// An application authenticating with keys or a certificate has
		// no secret to carry.
		if a.ClientSecret != "" || len(a.SecretDigests) > 0 || !(store.ClientAuth{Method: a.TokenEndpointAuthMethod}).UsesSecret() {
			continue
		}
		bare++
		if reset {
			list[i].ClientSecret, generated[i] = credential.NewSecret(), true
		}
	}
	if bare > 0 && !reset {
		return nil, fmt.Errorf("%d of %d applications in %s carry no secret (exported with --without-secrets, or written without client_secret), so their daemons could not authenticate; nothing was imported. Give --reset-secrets to import them with new secrets, printed once, or import an export that holds them",
			bare, len(list), file)
	}
	return generated, nil
}

// importAll imports each application on its own and reports each; the
// new secrets of those generated says were given one are shown this once.
func (c *cli) importAll(ctx context.Context, api adminConn, list []adminapi.ExportedApplication, generated []bool) error {
	var results []importResult
	failed, reset := 0, 0
	for i, a := range list {
		r := importResult{ClientID: a.ClientID, Result: "imported"}
		err := checkScopeList("scopes", a.Scopes)
		if err == nil {
			_, err = api.ImportApplication(ctx, a.ClientID, a.ImportApplicationRequest)
		}
		switch {
		case err == nil && generated[i]:
			r.ClientSecret = a.ClientSecret
			reset++
		case err != nil:
			failed++
			r.Result, r.Error = "invalid", api.explain(err).Error()
			// Import never overwrites: a conflict is the id taken.
			var e *adminapi.Error
			if errors.As(err, &e) && e.Status == http.StatusConflict {
				r.Result = "exists"
			}
		}
		results = append(results, r)
	}
	if c.json {
		if err := c.printJSON(results); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		header := "CLIENT_ID\tRESULT\tERROR"
		if reset > 0 {
			header += "\tNEW_CLIENT_SECRET"
		}
		fmt.Fprintln(w, header)
		for _, r := range results {
			line := fmt.Sprintf("%s\t%s\t%s", r.ClientID, r.Result, r.Error)
			if reset > 0 {
				line += "\t" + r.ClientSecret
			}
			fmt.Fprintln(w, line)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if reset > 0 {
			fmt.Fprint(c.stdout, strings.Replace(shownOnce, "The secret above is", "Each new secret above is", 1))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d applications not imported", failed, len(list))
	}
	return nil
}

// maxMigrationFile bounds what import reads: tens of thousands of
// applications.
const maxMigrationFile = 64 << 20

// readMigrationFile reads the migration file at path ("-" for stdin), of
// at most limit bytes (maxMigrationFile; the tests' is smaller).
func readMigrationFile(stdin io.Reader, path string, limit int) ([]adminapi.ExportedApplication, error) {
	r := stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		r = file
	}
	// One byte past the limit tells a file over it from one at it.
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: over %d MiB; split the applications into several files", path, limit>>20)
	}
	var f migrationFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %s (want what 'oauthd apps export' writes, or {\"applications\": [{\"client_id\", \"client_secret\", \"name\", \"scopes\", ...}]})", path, migrationProblem(err, &f))
	}
	if f.Version > migrationVersion {
		return nil, fmt.Errorf("%s: format version %d, written by a later oauthd; this one reads versions 1 to %d: import it with that oauthd's CLI", path, f.Version, migrationVersion)
	}
	if f.Version < 0 {
		return nil, fmt.Errorf("%s: format version %d does not exist", path, f.Version)
	}
	if len(f.Applications) == 0 {
		return nil, fmt.Errorf("%s: no applications", path)
	}
	return f.Applications, nil
}

// migrationProblem words an error decoding a migration file into into for
// the operator: what is wrong and where, not Go's types ("cannot
// unmarshal array into Go value of type main.migrationFile"); a field of
// the wrong type as the admin API words it (admin.FieldProblem).
func migrationProblem(err error, into any) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early: was the file cut short?"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("the file holds a JSON %s, not an object", typ.Value)
	case errors.As(err, &typ):
		path, problem := admin.FieldProblem(into, typ)
		return path + ": " + problem
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// readSecret reads a secret from a file or stdin ("-"), dropping one
// trailing newline.
func readSecret(stdin io.Reader, path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 4<<10))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

func (c *cli) exportCommand() *cobra.Command {
	var output string
	var withoutSecrets bool
	cmd := &cobra.Command{
		Use:   "export [--output FILE] [--without-secrets]",
		Short: "Write every application, with its secrets' digests, as JSON 'apps import --file' reads",
		Long: `Write every application as JSON: every field (its authentication method and
public keys too), whether it is enabled, and the SHA-256 digests of its
secrets (with their ids and expiries), the way oauthd stores them; a
client_secret_jwt application's secrets also sealed with the sealing key,
so they work only where the same jwt.sealing_key_file is configured. 'oauthd apps import --file' on another Redis then restores them
whole: each daemon's secret keeps working there. Exporting digests needs an
admin key (or direct mode); the export is recorded in the audit log.

The file is sensitive: with the digests anyone can check a guessed secret
offline. It says so in its "sensitive" and "comment" fields, oauthd warns on
standard error, and --output writes it with mode 0600 (on standard output,
the file's mode is your shell's). --without-secrets leaves the digests out,
for sharing; importing such a file needs --reset-secrets, which gives each
application a new secret.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		out := migrationFile{Version: migrationVersion, Applications: []adminapi.ExportedApplication{}}
		for cursor := ""; ; {
			page, err := api.ExportApplications(ctx, apps.MaxPage, cursor, !withoutSecrets)
			if err != nil {
				return err
			}
			out.Applications = append(out.Applications, page.Applications...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		secrets := 0
		for _, a := range out.Applications {
			secrets += len(a.SecretDigests)
		}
		if !withoutSecrets {
			out.Sensitive, out.Comment = true, sensitiveComment
			fmt.Fprintf(c.stderr, "warning: the export holds the SHA-256 digests of %d secrets of %d applications: keep it as you keep a Redis backup; --without-secrets leaves them out\n",
				secrets, len(out.Applications))
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if output == "" || output == "-" {
			_, err = c.stdout.Write(b) // JSON either way: it is a file format
			return err
		}
		if err := writePrivate(output, b); err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stderr, "wrote %d applications to %s (mode 0600)\n", len(out.Applications), output)
		return err
	})
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file, with mode 0600 (default: standard output)")
	cmd.Flags().BoolVar(&withoutSecrets, "without-secrets", false, "leave the secrets' digests out (for sharing; importing then needs --reset-secrets)")
	return c.command(cmd)
}

// writePrivate writes b to path readable by its owner only, whole or not
// at all: into a new file beside it (created 0600), renamed over it.
func writePrivate(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, there is none
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
