package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/admin/adminapi"
)

func scopesCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "scopes",
		Short: "Manage the scope catalogue every replica and the CLI share",
		Long: `Manage the scope catalogue: the scopes applications may hold. It lives in
Redis, one for every replica and the CLI; a configuration file's scopes: only
seeds it when Redis holds none. Like the apps commands, these use a running
server's admin API with --endpoint, or work on --redis-url directly.

Besides the catalogued scopes an application may hold the forms
<resource>:* (every catalogued <resource>:<action>) and all:any (every
catalogued scope but applications and tokens:introspect, which are granted by
name only); its tokens carry the scopes a form stands for when issued.`,
	}
	cmd.AddCommand(c.scopesListCommand(), c.scopesSetCommand(), c.scopesDeleteCommand(), c.scopesImportCommand())
	return cmd
}

func (c *cli) scopesListCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the catalogue, with the forms applications may hold besides", Args: cobra.NoArgs}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		l, err := api.ListScopes(ctx)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(l)
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tDESCRIPTION")
		for _, s := range l.Scopes {
			fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Description)
		}
		fmt.Fprintf(w, "\nforms: %s\n", strings.Join(l.Forms, " "))
		return w.Flush()
	})
	return c.command(cmd)
}

func (c *cli) scopesSetCommand() *cobra.Command {
	var desc string
	cmd := &cobra.Command{
		Use:   "set NAME --description TEXT",
		Short: "Add a scope to the catalogue, or set a catalogued scope's description",
		Args:  exactArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		s, created, err := api.PutScope(ctx, args[0], adminapi.ScopeRequest{Description: desc})
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(s)
		}
		verb := "described"
		if created {
			verb = "added"
		}
		_, err = fmt.Fprintf(c.stdout, "%s scope %s\n", verb, s.Name)
		return err
	})
	cmd.Flags().StringVar(&desc, "description", "", "what the scope grants, for operators choosing scopes (at most 200 bytes)")
	return c.command(cmd)
}

func (c *cli) scopesDeleteCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME [--force]",
		Short: "Delete a scope; refused while applications hold it, unless --force takes it from them",
		Args:  exactArgs(1),
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, args []string) error {
		if err := api.DeleteScope(ctx, args[0], force); err != nil {
			return err
		}
		return c.done("deleted_scope", args[0], "deleted scope "+args[0])
	})
	cmd.Flags().BoolVar(&force, "force", false, "take the scope from the applications that hold it too (each change audited and published on the revocation feed)")
	return c.command(cmd)
}

// importPlan is what scopes import changes, or would with --dry-run.
type importPlan struct {
	Added   []adminapi.Scope `json:"added"`
	Changed []adminapi.Scope `json:"changed"`
	Removed []adminapi.Scope `json:"removed"`
	// Kept are the removals refused because applications hold the scope
	// (without --force).
	Kept   []string `json:"kept,omitempty"`
	DryRun bool     `json:"dry_run"`
}

func (c *cli) scopesImportCommand() *cobra.Command {
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "import --config FILE [--dry-run] [--force]",
		Short: "Make the catalogue in Redis the scopes: of a configuration file",
		Long: `Make the catalogue in Redis the scopes: of the configuration file given by
--config: add the scopes it lacks, set the descriptions that differ and delete
the scopes the file does not list. With --dry-run it only shows the
difference. A scope applications hold is not deleted unless --force takes it
from them; tokens:introspect is always kept. New scopes go at the end of the
catalogue.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = c.verb(func(ctx context.Context, api adminConn, _ []string) error {
		switch {
		case api.cfg.file == "":
			return errors.New("give the file whose scopes: to import with --config FILE")
		case len(api.cfg.Scopes) == 0:
			return fmt.Errorf("%s lists no scopes: nothing to import", api.cfg.file)
		}
		l, err := api.ListScopes(ctx)
		if err != nil {
			return err
		}
		redis := make([]scopes.Scope, len(l.Scopes))
		for i, s := range l.Scopes {
			redis[i] = scopes.Scope{Name: s.Name, Description: s.Description}
		}
		added, removed, changed := scopes.Diff(redis, api.cfg.catalogue.Scopes())
		plan := importPlan{Added: wire(added), Changed: wire(changed), Removed: wire(removed), DryRun: dryRun}
		if !dryRun {
			if plan.Kept, err = applyImport(ctx, api, plan, force); err != nil {
				return err
			}
		}
		if err := c.printPlan(plan, redis); err != nil {
			return err
		}
		if len(plan.Kept) > 0 {
			return fmt.Errorf("kept %s: applications hold them; run again with --force to take them from those applications too", strings.Join(plan.Kept, ", "))
		}
		return nil
	})
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the difference, change nothing")
	cmd.Flags().BoolVar(&force, "force", false, "delete scopes the file lacks even while applications hold them, taking them from those applications")
	return c.command(cmd)
}

// applyImport makes the plan's changes through the admin API, each audited
// as an operator's own would be, and returns the scopes it kept because
// applications hold them.
func applyImport(ctx context.Context, api adminConn, plan importPlan, force bool) ([]string, error) {
	for _, s := range append(plan.Added, plan.Changed...) {
		if _, _, err := api.PutScope(ctx, s.Name, adminapi.ScopeRequest{Description: s.Description}); err != nil {
			return nil, err
		}
	}
	var kept []string
	for _, s := range plan.Removed {
		err := api.DeleteScope(ctx, s.Name, force)
		var e *adminapi.Error
		switch {
		case errors.As(err, &e) && e.Status == http.StatusConflict && e.Detail != nil:
			kept = append(kept, s.Name)
		case err != nil:
			return kept, err
		}
	}
	return kept, nil
}

func (c *cli) printPlan(plan importPlan, redis []scopes.Scope) error {
	if c.json {
		return c.printJSON(plan)
	}
	if len(plan.Added)+len(plan.Changed)+len(plan.Removed) == 0 {
		_, err := fmt.Fprintln(c.stdout, "the catalogue in Redis is the file's already")
		return err
	}
	was := map[string]string{}
	for _, s := range redis {
		was[s.Name] = s.Description
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, s := range plan.Added {
		fmt.Fprintf(w, "+ %s\t%s\n", s.Name, s.Description)
	}
	for _, s := range plan.Changed {
		fmt.Fprintf(w, "~ %s\t%s\t(was %q)\n", s.Name, s.Description, was[s.Name])
	}
	for _, s := range plan.Removed {
		fmt.Fprintf(w, "- %s\t%s\n", s.Name, s.Description)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if plan.DryRun {
		_, err := fmt.Fprintln(c.stdout, "\ndry run: nothing changed; run without --dry-run to apply")
		return err
	}
	return nil
}

func wire(list []scopes.Scope) []adminapi.Scope {
	out := []adminapi.Scope{}
	for _, s := range list {
		out = append(out, adminapi.Scope{Name: s.Name, Description: s.Description})
	}
	return out
}
