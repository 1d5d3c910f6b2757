package dashboard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/oauthd/oauthd/store"
)

// change is one line of an event's "what changed": a field, what it was
// (when the event recorded it) and what it became, as an operator reads
// them.
type change struct {
	Field, From, To string
	// HasFrom: the event recorded the old value (events written before
	// oauthd kept old values only say what a field became).
	HasFrom bool
}

// fieldNames are the audit details' keys in the operator's words.
var fieldNames = map[string]string{
	"name": "Name", "description": "Description", "owner": "Owner", "metadata": "Metadata",
	"scopes": "Scopes", "token_lifetime": "Token lifetime", "ip_allowlist": "IP allowlist",
	"enabled": "Enabled", "audiences": "Audiences", "token_format": "Token format",
	"secret_id": "Secret", "grace_period": "Grace period", "kid": "Key", "alg": "Algorithm",
	"count": "Count", "network": "Source network", "reason": "Reason", "locked_for": "Locked for",
	"jti": "Token", "all": "Every token", "expires_in": "Expires in", "expires_at": "Expires", "signs_from": "Signs from", "old_keys_retire_after": "Old keys retire after",
	"token_endpoint_auth_method": "Method", "jwks": "Keys", "jwks_uri": "JWK Set URL", "tls_client_auth_subject_dn": "Certificate subject DN",
	"workload_identity": "Workload identity", "secrets_removed": "Secrets deleted", "secret_issued": "New secret",
}

func fieldName(k string) string {
	if n, ok := fieldNames[k]; ok {
		return n
	}
	return strings.ReplaceAll(k, "_", " ")
}

// changesOf reads an event's detail as what changed: the fields it set,
// in a fixed order, each with its old value where "previous" holds one.
func changesOf(detail map[string]any) []change {
	prev, _ := detail["previous"].(map[string]any)
	keys := make([]string, 0, len(detail))
	for k := range detail {
		if k != "previous" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]change, 0, len(keys))
	for _, k := range keys {
		c := change{Field: fieldName(k), To: humanValue(detail[k])}
		if old, ok := prev[k]; ok {
			c.From, c.HasFrom = humanValue(old), true
		}
		out = append(out, c)
	}
	return out
}

// humanValue writes a detail value as text: lists joined, maps as
// key=value, booleans as yes and no, nothing as "none".
func humanValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		if v == "" {
			return "none"
		}
		return v
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = humanValue(x)
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	case []string:
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + humanValue(v[k])
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = x
		}
		return humanValue(m)
	}
	return fmt.Sprint(v)
}

// kindText is an event kind as a sentence's verb phrase.
var kindText = map[string]string{
	"application.created": "Created", "application.imported": "Imported", "application.updated": "Changed",
	"application.auth_changed": "Authentication changed",
	"application.deleted":      "Deleted", "secret.reset": "Secret reset", "secret.deleted": "Secret deleted",
	"tokens.revoked": "Every token revoked", "token.revoked": "Token revoked", "api_key.created": "API key created",
	"signing_key.rotated": "Signing key rotated", "scope.created": "Scope added", "scope.updated": "Scope described",
	"scope.deleted":      "Scope deleted",
	"client.auth_failed": "Failed client authentication", "client.locked_out": "Client locked out",
	"token.quota_exceeded": "Token quota spent", "introspection.limited": "Introspection budget spent",
	"admin.auth_failed": "Failed admin authentication", "admin.locked_out": "Admin address locked out",
	"dashboard.auth_failed": "Failed dashboard sign-in", "dashboard.locked_out": "Dashboard address locked out",
}

func eventTitle(e store.Event) string {
	if t, ok := kindText[e.Kind]; ok {
		return t
	}
	return e.Kind
}
