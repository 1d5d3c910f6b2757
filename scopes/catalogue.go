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

// Catalogue is the ordered list of scopes an application may be given.
// Scopes outside it can never be granted, so a typo in an operator's command
// fails loudly instead of producing an application nobody can use.
type Catalogue struct {
	list []Scope
}

// NewCatalogue checks every name and rejects duplicates.
func NewCatalogue(list []Scope) (*Catalogue, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("scope catalogue is empty: list at least one scope")
	}
	c := &Catalogue{list: make([]Scope, 0, len(list))}
	for _, s := range list {
		if !ValidName(s.Name) {
			return nil, fmt.Errorf("%w: catalogue scope %q: use a lower-case name or resource:action, e.g. \"sms\" or \"messages:send\"", ErrSyntax, truncate(s.Name))
		}
		if c.Has(s.Name) {
			return nil, fmt.Errorf("catalogue lists scope %q twice", s.Name)
		}
		c.list = append(c.list, s)
	}
	if !c.Has(Introspect) {
		c.list = append(c.list, introspectScope())
	}
	return c, nil
}

func introspectScope() Scope {
	return Scope{Introspect, "Introspect other applications' tokens (for resource servers)"}
}

// Default is the SMS service catalogue oauthd ships with. Its entries are
// fixed at compile time; a test runs them through NewCatalogue.
func Default() *Catalogue { return &Catalogue{list: DefaultScopes()} }

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
	for _, s := range c.list {
		if s.Name == name {
			return true
		}
	}
	return false
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

// Check returns an error naming every scope in list that is not catalogued.
func (c *Catalogue) Check(list []string) error {
	var unknown []string
	for _, s := range list {
		if !c.Has(s) {
			unknown = append(unknown, truncate(s))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown scope(s) %s: the catalogue has %s", strings.Join(unknown, ", "), Format(c.Names()))
	}
	return nil
}
