package dashboard

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/apps"
)

// scopesView is the Scopes page: the catalogue every replica shares, the
// forms it offers, and (for an admin key) the form that adds a scope or
// describes one, with the errors of its last submission.
type scopesView struct {
	Scopes  []scopeRow
	Forms   []scopes.Scope
	CanEdit bool
	// Name and Description are the form's.
	Name, Description string
	Errors            map[string]string
	Message           string
	Notice            string
}

type scopeRow struct {
	scopes.Scope
	// Kept: tokens:introspect, which cannot be deleted.
	Kept bool
}

// scopesPage lists the catalogue; ?edit=NAME fills the form with a scope
// to describe.
func (d *Dashboard) scopesPage(c echo.Context) error {
	v := scopesView{Notice: notices[c.QueryParam("done")]}
	if name := c.QueryParam("edit"); name != "" {
		v.Name = name
	}
	return d.renderScopes(c, http.StatusOK, v)
}

// renderScopes fills v with the catalogue in force and renders it.
func (d *Dashboard) renderScopes(c echo.Context, status int, v scopesView) error {
	cat, err := d.apps.Catalogue(c.Request().Context())
	if err != nil {
		return d.renderError(c, err)
	}
	for _, s := range cat.Scopes() {
		v.Scopes = append(v.Scopes, scopeRow{Scope: s, Kept: s.Name == scopes.Introspect})
		if s.Name == v.Name && v.Description == "" && v.Errors == nil {
			v.Description = s.Description
		}
	}
	v.Forms = pickable(cat)[len(v.Scopes):]
	v.CanEdit = current(c).actor.Delegate == nil
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	return d.render(c, status, "scopes", page{Title: "Scopes", Nav: "scopes", Data: v})
}

// setScope adds a scope or describes one.
func (d *Dashboard) setScope(c echo.Context) error {
	v := scopesView{Name: c.FormValue("name"), Description: c.FormValue("description"), Errors: map[string]string{}}
	_, added, err := d.apps.SetScope(c.Request().Context(), v.Name, v.Description)
	if err != nil {
		p := explain(err)
		if p.Status >= 500 {
			return d.renderError(c, err)
		}
		if p.Field == "name" || p.Field == "description" {
			v.Errors[p.Field] = p.Message
		} else {
			v.Message = p.Message
		}
		return d.renderScopes(c, p.Status, v)
	}
	done := "scope-described"
	if added {
		done = "scope-added"
	}
	return c.Redirect(http.StatusSeeOther, Prefix+"scopes?done="+done)
}

// scopeDeleteView asks before a scope is deleted, naming the applications
// that hold it: confirming takes it from them too.
type scopeDeleteView struct {
	Name    string
	Holders []string
	// More is how many holders are not listed.
	More int
}

// maxHoldersShown bounds the holders the confirmation lists.
const maxHoldersShown = 50

// deleteScope deletes a scope once confirmed; the confirmation names its
// holders, from whom it is then taken (force).
func (d *Dashboard) deleteScope(c echo.Context) error {
	name := c.FormValue("name")
	confirm, err := formChoice(c, "confirm", "yes", "")
	if err != nil {
		return d.renderError(c, err)
	}
	force, err := formChoice(c, "force", "true", "")
	if err != nil {
		return d.renderError(c, err)
	}
	if confirm != "yes" {
		return d.confirmScopeDeletion(c, name)
	}
	_, err = d.apps.DeleteScope(c.Request().Context(), name, force == "true")
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, Prefix+"scopes?done=scope-deleted")
	case apps.ErrorCode(err) == apps.CodeConflict:
		// Held since the confirmation was shown: ask again, naming them.
		return d.confirmScopeDeletion(c, name)
	}
	return d.renderError(c, err)
}

// confirmScopeDeletion renders the confirmation with the scope's holders.
func (d *Dashboard) confirmScopeDeletion(c echo.Context, name string) error {
	ctx := c.Request().Context()
	cat, err := d.apps.Catalogue(ctx)
	if err != nil {
		return d.renderError(c, err)
	}
	if !cat.Has(name) {
		return d.renderStatus(c, http.StatusNotFound, "Not found", "The catalogue has no scope "+truncate(name, 64)+".")
	}
	holders, err := d.apps.ScopeHolders(ctx, name)
	if err != nil {
		return d.renderError(c, err)
	}
	v := scopeDeleteView{Name: name, Holders: holders}
	if len(holders) > maxHoldersShown {
		v.Holders, v.More = holders[:maxHoldersShown], len(holders)-maxHoldersShown
	}
	return d.render(c, http.StatusOK, "scopedelete", page{Title: "Delete scope " + name, Nav: "scopes", Data: v})
}
