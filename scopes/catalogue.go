package scopes

import (
	"fmt"
	"strings"
)

// Introspect is the reserved scope that lets an application (a resource
// server) call the introspection endpoint. Every catalogue has it, so an
// operator can always grant it; like any scope, an application that lacks
// it cannot request it.
const Introspect = "tokens:introspect"

// Admin is the scope that lets an application use the admin API
// (delegated administration, bounded by its owner; see server/apps). It is
// in the default catalogue; a custom catalogue may leave it out.
const Admin = "applications"

// Scope is one catalogued scope: its name and what it grants, for operators
// choosing scopes and for the metadata document.
type Scope struct {
	Name        string `json:"name" mapstructure:"name"`
	Description string `json:"description" mapstructure:"description"`
}

// Catalogue is the ordered list of scopes an application may be given,
// besides the forms that stand for several of them (All, "resource:*";
// see Forms). Scopes outside it can never be granted, so a typo in an
// operator's command fails loudly instead of producing an application
// nobody can use. A Catalogue is never changed once made: oauthd keeps
// the one in force in its store and makes a new one on every change.
type Catalogue struct {
	list  []Scope
	index map[string]struct{} // the names, for Has on the token path
}

// NewCatalogue checks every name and rejects duplicates. It adds
// tokens:introspect when the list lacks it, and drops an entry named
// all:any, which seeds written before the forms existed listed: All is a
// form every catalogue understands, not a scope.
func NewCatalogue(list []Scope) (*Catalogue, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("scope catalogue is empty: list at least one scope")
	}
	c := &Catalogue{list: make([]Scope, 0, len(list)+1), index: make(map[string]struct{}, len(list)+1)}
	for _, s := range list {
		if s.Name == All {
			continue
		}
		if !ValidName(s.Name) {
			return nil, fmt.Errorf("%w: catalogue scope %q: use a lower-case name or resource:action, e.g. \"sms\" or \"messages:send\"", ErrSyntax, truncate(s.Name))
		}
		if c.Has(s.Name) {
			return nil, fmt.Errorf("catalogue lists scope %q twice", s.Name)
		}
		c.add(s)
	}
	if !c.Has(Introspect) {
		c.add(introspectScope())
	}
	return c, nil
}

func (c *Catalogue) add(s Scope) {
	c.list = append(c.list, s)
	c.index[s.Name] = struct{}{}
}

func introspectScope() Scope {
	return Scope{Introspect, "Introspect other applications' tokens (for resource servers)"}
}

// Default is the SMS service catalogue oauthd ships with. Its entries are
// fixed at compile time; a test runs them through NewCatalogue.
func Default() *Catalogue {
	c, err := NewCatalogue(DefaultScopes())
	if err != nil {
		panic(err) // fixed at compile time, and tested
	}
	return c
}

// DefaultScopes returns a fresh copy of the built-in catalogue's entries.
func DefaultScopes() []Scope {
	return []Scope{
		{"sms", "Send SMS messages and read their status"},
		{"viber", "Send Viber messages"},
		{"whatsapp", "Send WhatsApp messages"},
		{"multichannel", "Send messages that fall back across channels"},
		{"conversations", "Read and answer two-way conversations"},
		{"reports", "Read delivery reports and message history"},
		{"groups", "Manage contact groups"},
		{"originators", "Manage sender IDs"},
		{"templates", "Manage message templates"},
		{"shortlinks", "Create and read tracked short links"},
		{"attachments", "Upload and read message attachments"},
		{"optouts", "Manage the opt-out list"},
		{"account", "Read account details and balance"},
		{"applications", "Manage oauthd applications through the admin API"},
		{"numbers", "Look up and validate phone numbers"},
		introspectScope(),
	}
}

// Has reports whether name is catalogued.
func (c *Catalogue) Has(name string) bool {
	_, ok := c.index[name]
	return ok
}

// Scopes returns a copy of the catalogue in its order.
func (c *Catalogue) Scopes() []Scope { return append([]Scope(nil), c.list...) }

// Names returns the catalogued names in order.
func (c *Catalogue) Names() []string {
	out := make([]string, len(c.list))
	for i, s := range c.list {
		out[i] = s.Name
	}
	return out
}

// Check returns an error naming every member of list an application may
// not hold: what is neither catalogued nor a form (All, or a group
// "resource:*" that reaches a catalogued scope).
func (c *Catalogue) Check(list []string) error {
	var unknown []string
	for _, s := range list {
		if !c.valid(s) {
			unknown = append(unknown, truncate(s))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown scope(s) %s: the catalogue has %s (and the forms %s)",
			strings.Join(unknown, ", "), Format(c.Names()), Format(c.Forms()))
	}
	return nil
}

// valid reports whether an application may hold s.
func (c *Catalogue) valid(s string) bool {
	switch {
	case s == All:
		return true
	case IsForm(s):
		return c.reaches(s)
	}
	return c.Has(s)
}

// reaches reports whether the form f covers a catalogued scope.
func (c *Catalogue) reaches(f string) bool {
	for _, s := range c.list {
		if covers(f, s.Name) {
			return true
		}
	}
	return false
}

// Forms lists the forms an application may hold besides the catalogued
// scopes: a group "resource:*" for each resource the catalogue has
// unreserved actions of, in catalogue order, then All.
func (c *Catalogue) Forms() []string {
	var out []string
	for _, s := range c.list {
		resource, _, pair := strings.Cut(s.Name, ":")
		if f := resource + groupSuffix; pair && !Reserved(s.Name) && !contains(out, f) {
			out = append(out, f)
		}
	}
	return append(out, All)
}

// plain reports whether list holds only catalogued scopes, no form.
func (c *Catalogue) plain(list []string) bool {
	for _, s := range list {
		if !c.Has(s) {
			return false
		}
	}
	return true
}

// Expand returns the catalogued scopes an application holding held is
// granted: its catalogued scopes and, for each form, the catalogued
// scopes it reaches, in that order without repeats. A name the catalogue
// lacks (deleted since) grants nothing. held itself is returned, with no
// copy, when it holds only catalogued scopes: the common case, on the
// token path.
func (c *Catalogue) Expand(held []string) []string {
	if c.plain(held) {
		return held
	}
	out := make([]string, 0, len(c.list))
	for _, h := range held {
		if !IsForm(h) {
			if c.Has(h) && !contains(out, h) {
				out = append(out, h)
			}
			continue
		}
		for _, s := range c.list {
			if covers(h, s.Name) && !contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// Grant decides the scopes of a token: what an application holding held
// is granted when it asks for requested, or the requested entries it may
// not have. Without requested it gets Expand(held). Each requested scope
// must be catalogued and covered by held (Covers); a requested form must
// be held itself (or, for a group, through All), reach a catalogued scope,
// and is expanded as held forms are. So a token carries catalogued scopes
// only, and a resource server checks them without knowing any form.
// requested is returned itself when it names catalogued scopes only.
func (c *Catalogue) Grant(held, requested []string) (granted, refused []string) {
	if len(requested) == 0 {
		return c.Expand(held), nil
	}
	for _, r := range requested {
		if !c.valid(r) || !Covers(held, r) {
			refused = append(refused, r)
		}
	}
	if refused != nil {
		return nil, refused
	}
	return c.Expand(requested), nil
}

// Filter returns the members of list the catalogue has, in list's order:
// list itself when it has all of them (no copy).
func (c *Catalogue) Filter(list []string) []string {
	if c.plain(list) {
		return list
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if c.Has(s) {
			out = append(out, s)
		}
	}
	return out
}

// Diff compares two catalogues by name: the scopes of to that from lacks,
// those of from that to lacks, and those of to whose description differs
// in from, each in its catalogue's order.
func Diff(from, to []Scope) (added, removed, changed []Scope) {
	find := func(list []Scope, name string) (Scope, bool) {
		for _, s := range list {
			if s.Name == name {
				return s, true
			}
		}
		return Scope{}, false
	}
	for _, s := range to {
		switch old, ok := find(from, s.Name); {
		case !ok:
			added = append(added, s)
		case old.Description != s.Description:
			changed = append(changed, s)
		}
	}
	for _, s := range from {
		if _, ok := find(to, s.Name); !ok {
			removed = append(removed, s)
		}
	}
	return added, removed, changed
}
