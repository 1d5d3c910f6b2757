package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server/admin/adminapi"
)

// migrationFile is what `apps export` writes and `apps import --file`
// reads: the applications in the admin API's shape, each with its client
// ID and, for import, the secret its daemons hold. A Hydra or Keycloak
// client list converts to it with a few lines of jq (docs/operations.md).
type migrationFile struct {
	Applications []migrationApp `json:"applications"`
}

type migrationApp struct {
	ClientID string `json:"client_id"`
	adminapi.ImportApplicationRequest
}

// importResult is one line of `apps import`'s report.
type importResult struct {
	ClientID string `json:"client_id"`
	Result   string `json:"result"` // imported, exists or invalid
	Error    string `json:"error,omitempty"`
}

func (c *cli) importCommand() *cobra.Command {
	var file, secretFile string
	var in adminapi.ImportApplicationRequest
	cmd := &cobra.Command{
		Use:   "import (CLIENT_ID --name NAME --scopes S --secret-file FILE | --file APPS.json)",
		Short: "Create applications with client IDs and secrets brought from another server",
		Long: `Create an application under a given client ID with the secret its daemons
already use, so they move from Hydra, Keycloak or another server without new
credentials. Only the secret's SHA-256 digest is stored.

One application: the secret is read from --secret-file (- for stdin), never
from the command line, where it would land in shell history.

Many: --file holds {"applications": [{"client_id", "client_secret", "name",
"scopes", "token_lifetime", "description", "ip_allowlist"}, ...]}, the shape
'oauthd apps export' writes (without secrets). Each is imported on its own; an
existing client ID is reported and left alone. The command fails if any did.`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		var apps []migrationApp
		switch {
		case file != "" && len(args) == 0:
			var err error
			if apps, err = readMigrationFile(file); err != nil {
				return err
			}
		case file == "" && len(args) == 1:
			if secretFile == "" {
				return errors.New("give the secret in --secret-file (- for stdin)")
			}
			secret, err := readSecret(cmd.InOrStdin(), secretFile)
			if err != nil {
				return err
			}
			in.ClientSecret = secret
			apps = []migrationApp{{ClientID: args[0], ImportApplicationRequest: in}}
		default:
			return errors.New("give either a CLIENT_ID (with --name, --scopes and --secret-file) or --file")
		}
		return c.importAll(ctx, api, apps)
	})
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "JSON file of applications to import (see above)")
	f.StringVar(&secretFile, "secret-file", "", "file holding the client secret (- for stdin)")
	f.StringVar(&in.Name, "name", "", "application name")
	f.StringVar(&in.Description, "description", "", "what the application is for")
	f.StringArrayVar(&in.Scopes, "scopes", nil, `scopes it may request, space-separated ("sms groups"); repeatable`)
	f.StringVar(&in.TokenLifetime, "lifetime", "24h", "token lifetime: a duration (24h, 168h), days (7d) or never")
	f.StringArrayVar(&in.IPAllowlist, "allow-ip", nil, "CIDR or address allowed to get tokens; repeatable")
	return c.command(cmd)
}

func (c *cli) importAll(ctx context.Context, api adminConn, apps []migrationApp) error {
	var results []importResult
	failed := 0
	for _, a := range apps {
		r := importResult{ClientID: a.ClientID, Result: "imported"}
		err := checkScopeList("scopes", a.Scopes)
		if err == nil {
			_, err = api.ImportApplication(ctx, a.ClientID, a.ImportApplicationRequest)
		}
		if err != nil {
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
		fmt.Fprintln(w, "CLIENT_ID\tRESULT\tERROR")
		for _, r := range results {
			fmt.Fprintf(w, "%s\t%s\t%s\n", r.ClientID, r.Result, r.Error)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d applications not imported", failed, len(apps))
	}
	return nil
}

func readMigrationFile(path string) ([]migrationApp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f migrationFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w (want {\"applications\": [{\"client_id\", \"client_secret\", \"name\", \"scopes\", ...}]})", path, err)
	}
	if len(f.Applications) == 0 {
		return nil, fmt.Errorf("%s: no applications", path)
	}
	return f.Applications, nil
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
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print every application as JSON, without secrets, in the shape 'apps import --file' reads",
		Args:  cobra.NoArgs,
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		var out migrationFile
		out.Applications = []migrationApp{}
		for cursor := ""; ; {
			page, err := api.ListApplications(ctx, adminapi.ApplicationFilter{}, 500, cursor)
			if err != nil {
				return err
			}
			for _, a := range page.Applications {
				out.Applications = append(out.Applications, migrationApp{ClientID: a.ClientID,
					ImportApplicationRequest: adminapi.ImportApplicationRequest{NewApplicationRequest: adminapi.NewApplicationRequest{
						Name: a.Name, Description: a.Description, Scopes: a.Scopes, TokenLifetime: a.TokenLifetime, IPAllowlist: a.IPAllowlist,
					}}})
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		return c.printJSON(out) // JSON either way: it is a file format
	})
	return c.command(cmd)
}
