package apps

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/server/clientauth"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// An application's client authentication (issue 18) is set whole: its
// method (RFC 7591 token_endpoint_auth_method) and the one piece of
// material the method needs. The field names in errors are the admin
// API's (RFC 7591 §2, RFC 8705 §2.1.2), which the dashboard and CLI show
// next to their own inputs.
const (
	fieldMethod    = "token_endpoint_auth_method"
	fieldJWKS      = "jwks"
	fieldJWKSURI   = "jwks_uri"
	fieldSubjectDN = "tls_client_auth_subject_dn"
	fieldWorkload  = "workload_identity"
)

// maxAuthText bounds the text fields of an authentication setting (a DN,
// a URL, a subject): each is read with the application on every token
// request.
const maxAuthText = 1024

// ErrNoSealingKey words why client_secret_jwt is refused by a service
// without Options.Seal.
const ErrNoSealingKey = "client_secret_jwt needs the sealing key: set jwt.sealing_key_file"

// checkAuth validates an authentication setting: a known method (""
// is the shared secret of applications made before methods existed, sent
// with either classic method) and exactly the material it needs, which it
// returns normalised (a compact JWK Set, a subject DN in its normal
// form, an IP address in its canonical text).
func checkAuth(c store.ClientAuth) (store.ClientAuth, error) {
	c.Method = strings.TrimSpace(c.Method)
	if c.Method != "" && !slices.Contains(store.AuthMethods, c.Method) {
		return store.ClientAuth{}, Invalid(fieldMethod, fmt.Sprintf("%q: use one of %s", truncate(c.Method, 40), strings.Join(store.AuthMethods, ", ")))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{fieldJWKSURI, &c.JWKSURI}, {fieldSubjectDN, &c.SubjectDN}, {"tls_client_auth_san_dns", &c.SANDNS},
		{"tls_client_auth_san_uri", &c.SANURI}, {"tls_client_auth_san_ip", &c.SANIP}, {"tls_client_auth_san_email", &c.SANEmail},
		{fieldWorkload + ".issuer", &c.TrustedIssuer}, {fieldWorkload + ".jwks_uri", &c.TrustedJWKSURI},
		{fieldWorkload + ".subject", &c.TrustedSubject}, {fieldWorkload + ".audience", &c.TrustedAudience},
	} {
		*f.v = strings.TrimSpace(*f.v)
		if len(*f.v) > maxAuthText {
			return store.ClientAuth{}, Invalid(f.name, fmt.Sprintf("at most %d bytes", maxAuthText))
		}
	}
	if len(c.JWKS) > 0 && string(c.JWKS) == "null" {
		c.JWKS = nil
	}
	tls := tlsFields(c)
	workload := c.TrustedIssuer != "" || c.TrustedJWKSURI != "" || c.TrustedSubject != "" || c.TrustedAudience != ""
	keys := len(c.JWKS) > 0 || c.JWKSURI != ""
	switch c.Method {
	case "", store.AuthSecretBasic, store.AuthSecretPost, store.AuthSecretJWT:
		switch {
		case keys || workload:
			return store.ClientAuth{}, Invalid(cmpField(len(c.JWKS) > 0, fieldJWKS, cmpField(c.JWKSURI != "", fieldJWKSURI, fieldWorkload)),
				fmt.Sprintf("%s authenticates with a shared secret and takes no keys: set token_endpoint_auth_method to private_key_jwt (or self_signed_tls_client_auth for certificates)", methodName(c.Method)))
		case len(tls) > 0:
			return store.ClientAuth{}, Invalid(tls[0], fmt.Sprintf("%s authenticates with a shared secret and takes no certificate: set token_endpoint_auth_method to tls_client_auth", methodName(c.Method)))
		}
		return store.ClientAuth{Method: c.Method}, nil
	case store.AuthPrivateKeyJWT:
		if len(tls) > 0 {
			return store.ClientAuth{}, Invalid(tls[0], "is for tls_client_auth, not private_key_jwt")
		}
		if n := count(len(c.JWKS) > 0, c.JWKSURI != "", workload); n != 1 {
			return store.ClientAuth{}, Invalid(fieldJWKS, "private_key_jwt needs exactly one of jwks (the client's public keys), jwks_uri (where the client publishes them) or workload_identity (an external issuer whose tokens it presents)")
		}
		out := store.ClientAuth{Method: c.Method}
		var err error
		switch {
		case len(c.JWKS) > 0:
			out.JWKS, err = checkJWKS(c.JWKS, c.Method)
		case c.JWKSURI != "":
			out.JWKSURI, err = checkJWKSURI(fieldJWKSURI, c.JWKSURI)
		default:
			out.TrustedIssuer, out.TrustedJWKSURI, out.TrustedSubject, out.TrustedAudience, err = checkWorkload(c)
		}
		return out, err
	case store.AuthTLS:
		if keys || workload {
			return store.ClientAuth{}, Invalid(cmpField(keys, fieldJWKS, fieldWorkload), "tls_client_auth matches the client certificate's subject against the configured CA's: give tls_client_auth_subject_dn or one tls_client_auth_san_* field, no keys (for a registered certificate use self_signed_tls_client_auth)")
		}
		if len(tls) != 1 {
			return store.ClientAuth{}, Invalid(fieldSubjectDN, "tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip or tls_client_auth_san_email (RFC 8705 §2.1.2)")
		}
		return checkTLSSubject(c)
	case store.AuthSelfSignedTLS:
		if len(tls) > 0 || workload {
			return store.ClientAuth{}, Invalid(cmpField(workload, fieldWorkload, firstOr(tls)), "self_signed_tls_client_auth matches the certificate against those registered in jwks (x5c) or at jwks_uri: give one of those only")
		}
		if count(len(c.JWKS) > 0, c.JWKSURI != "") != 1 {
			return store.ClientAuth{}, Invalid(fieldJWKS, "self_signed_tls_client_auth needs exactly one of jwks (with each certificate as x5c) or jwks_uri")
		}
		out := store.ClientAuth{Method: c.Method}
		var err error
		if len(c.JWKS) > 0 {
			out.JWKS, err = checkJWKS(c.JWKS, c.Method)
		} else {
			out.JWKSURI, err = checkJWKSURI(fieldJWKSURI, c.JWKSURI)
		}
		return out, err
	}
	return store.ClientAuth{}, Invalid(fieldMethod, "unknown") // unreachable: checked above
}

func methodName(m string) string {
	if m == "" {
		return "an application with no token_endpoint_auth_method"
	}
	return m
}

func cmpField(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

func firstOr(list []string) string {
	if len(list) == 0 {
		return fieldWorkload
	}
	return list[0]
}

func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

// tlsFields names the certificate fields c sets.
func tlsFields(c store.ClientAuth) []string {
	var out []string
	for _, f := range []struct {
		name, v string
	}{
		{fieldSubjectDN, c.SubjectDN}, {"tls_client_auth_san_dns", c.SANDNS}, {"tls_client_auth_san_uri", c.SANURI},
		{"tls_client_auth_san_ip", c.SANIP}, {"tls_client_auth_san_email", c.SANEmail},
	} {
		if f.v != "" {
			out = append(out, f.name)
		}
	}
	return out
}

func checkJWKS(raw []byte, method string) ([]byte, error) {
	out, err := clientauth.ValidateJWKS(raw, method)
	if err != nil {
		return nil, Invalid(fieldJWKS, strings.TrimPrefix(err.Error(), "jwks: "))
	}
	return out, nil
}

func checkJWKSURI(field, uri string) (string, error) {
	if err := clientauth.ValidateJWKSURI(uri); err != nil {
		return "", Invalid(field, err.Error())
	}
	return uri, nil
}

// checkWorkload accepts a trusted external issuer: its https URL (OIDC
// discovery finds its keys) or its jwks_uri too, and the subject and
// audience its tokens must carry, both required: without a subject every
// workload of the cluster would be the application, without an audience
// a token minted for another service would do.
func checkWorkload(c store.ClientAuth) (issuer, jwksURI, subject, audience string, err error) {
	u, perr := url.Parse(c.TrustedIssuer)
	switch {
	case c.TrustedIssuer == "":
		return "", "", "", "", Invalid(fieldWorkload+".issuer", "required: the issuer URL of the tokens the workload presents (e.g. https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE, or your cluster's service-account issuer)")
	case perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", "", "", "", Invalid(fieldWorkload+".issuer", fmt.Sprintf("%q: an https URL without userinfo, query or fragment, exactly as the tokens' iss", truncate(c.TrustedIssuer, 80)))
	case c.TrustedSubject == "":
		return "", "", "", "", Invalid(fieldWorkload+".subject", "required: the sub the tokens must carry, e.g. system:serviceaccount:sms:billing")
	case c.TrustedAudience == "":
		return "", "", "", "", Invalid(fieldWorkload+".audience", "required: the aud the tokens must name (the audience the workload's token is projected for), so a token minted for another service is refused")
	}
	for field, v := range map[string]string{fieldWorkload + ".subject": c.TrustedSubject, fieldWorkload + ".audience": c.TrustedAudience} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return "", "", "", "", Invalid(field, "must be printable text without control characters")
		}
	}
	if c.TrustedJWKSURI != "" {
		if _, err := checkJWKSURI(fieldWorkload+".jwks_uri", c.TrustedJWKSURI); err != nil {
			return "", "", "", "", err
		}
	}
	return c.TrustedIssuer, c.TrustedJWKSURI, c.TrustedSubject, c.TrustedAudience, nil
}

// checkTLSSubject checks the one certificate field c sets and returns it
// normalised, so the comparison at the token endpoint is exact.
func checkTLSSubject(c store.ClientAuth) (store.ClientAuth, error) {
	out := store.ClientAuth{Method: c.Method}
	switch {
	case c.SubjectDN != "":
		dn, err := clientauth.ValidateSubjectDN(c.SubjectDN)
		if err != nil {
			return store.ClientAuth{}, Invalid(fieldSubjectDN, err.Error()+" (an RFC 4514 string such as CN=billing,O=Example,C=DE)")
		}
		out.SubjectDN = dn
	case c.SANDNS != "":
		name := strings.ToLower(strings.TrimSuffix(c.SANDNS, "."))
		if !validDNSName(name) {
			return store.ClientAuth{}, Invalid("tls_client_auth_san_dns", fmt.Sprintf("%q: a DNS name such as billing.sms.example.com", truncate(c.SANDNS, 80)))
		}
		out.SANDNS = name
	case c.SANURI != "":
		u, err := url.Parse(c.SANURI)
		if err != nil || !u.IsAbs() || strings.ContainsFunc(c.SANURI, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return store.ClientAuth{}, Invalid("tls_client_auth_san_uri", fmt.Sprintf("%q: an absolute URI such as spiffe://example.org/ns/sms/sa/billing", truncate(c.SANURI, 80)))
		}
		out.SANURI = c.SANURI
	case c.SANIP != "":
		ip, err := netip.ParseAddr(c.SANIP)
		if err != nil || ip.Zone() != "" {
			return store.ClientAuth{}, Invalid("tls_client_auth_san_ip", fmt.Sprintf("%q: an IPv4 or IPv6 address", truncate(c.SANIP, 80)))
		}
		out.SANIP = ip.Unmap().String()
	case c.SANEmail != "":
		a, err := mail.ParseAddress(c.SANEmail)
		if err != nil || a.Address != c.SANEmail || a.Name != "" {
			return store.ClientAuth{}, Invalid("tls_client_auth_san_email", fmt.Sprintf("%q: an address such as billing@sms.example.com", truncate(c.SANEmail, 80)))
		}
		out.SANEmail = c.SANEmail
	}
	return out, nil
}

// validDNSName accepts a host name, lower case, with a leading "*." for
// a wildcard certificate's name.
func validDNSName(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
			return false
		}
	}
	return true
}

// keyType is a key's kty as its JWK says.
func keyType(k jose.JSONWebKey) string {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	case ed25519.PublicKey:
		return "OKP"
	}
	return "unknown"
}

// KeyInfo describes one public key of a JWK Set, as operators see it.
type KeyInfo struct {
	KeyID, KeyType, Algorithm, Use string
	// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url).
	Thumbprint string
	// Certificate is the subject of its first x5c certificate, if any.
	Certificate string
}

// Keys describes the keys of a JWK Set (an application's Auth.JWKS);
// JSON that is no JWK Set describes no keys.
func Keys(jwks []byte) []KeyInfo {
	var set jose.JSONWebKeySet
	if len(jwks) == 0 || json.Unmarshal(jwks, &set) != nil {
		return nil
	}
	out := make([]KeyInfo, 0, len(set.Keys))
	for _, k := range set.Keys {
		info := KeyInfo{KeyID: k.KeyID, Algorithm: k.Algorithm, Use: k.Use, KeyType: keyType(k)}
		if tp, err := k.Thumbprint(crypto.SHA256); err == nil {
			info.Thumbprint = base64.RawURLEncoding.EncodeToString(tp)
		}
		if len(k.Certificates) > 0 {
			info.Certificate = k.Certificates[0].Subject.String()
		}
		out = append(out, info)
	}
	return out
}

// authDetail is an authentication setting as the audit log writes it:
// the method and what identifies its material (key ids and thumbprints,
// never a whole key set), so the log shows which keys were registered.
func authDetail(c store.ClientAuth) map[string]any {
	d := map[string]any{fieldMethod: methodOrLegacy(c.Method)}
	if len(c.JWKS) > 0 {
		var keys []string
		for _, k := range Keys(c.JWKS) {
			keys = append(keys, strings.TrimPrefix(k.KeyID+" ", " ")+k.Thumbprint)
		}
		d["jwks"] = keys
	}
	for k, v := range map[string]string{
		fieldJWKSURI: c.JWKSURI, fieldSubjectDN: c.SubjectDN, "tls_client_auth_san_dns": c.SANDNS, "tls_client_auth_san_uri": c.SANURI,
		"tls_client_auth_san_ip": c.SANIP, "tls_client_auth_san_email": c.SANEmail,
	} {
		if v != "" {
			d[k] = v
		}
	}
	if c.TrustedIssuer != "" {
		w := map[string]any{"issuer": c.TrustedIssuer, "subject": c.TrustedSubject, "audience": c.TrustedAudience}
		if c.TrustedJWKSURI != "" {
			w["jwks_uri"] = c.TrustedJWKSURI
		}
		d[fieldWorkload] = w
	}
	return d
}

// methodOrLegacy names the method "" as the audit log and pages show it.
func methodOrLegacy(m string) string {
	if m == "" {
		return "client_secret_basic or client_secret_post"
	}
	return m
}

// newSecret issues a secret for an application authenticating with
// method: its digest, and for client_secret_jwt the secret sealed too
// (the server checks an HMAC assertion with the secret itself).
func (s *Service) newSecret(ctx context.Context, method string) (store.Secret, string, error) {
	plain := credential.NewSecret()
	sec := store.Secret{ID: credential.NewID(), Digest: store.Sum(plain), CreatedAt: s.now()}
	if method == store.AuthSecretJWT {
		var err error
		if sec.Sealed, err = s.seal(ctx, plain); err != nil {
			return store.Secret{}, "", err
		}
	}
	return sec, plain, nil
}

// seal seals a client_secret_jwt secret with the deployment's sealing key.
func (s *Service) seal(ctx context.Context, plain string) ([]byte, error) {
	if s.opts.Seal == nil {
		return nil, Invalid(fieldMethod, ErrNoSealingKey)
	}
	sealed, err := s.opts.Seal(ctx, []byte(plain))
	if err != nil {
		return nil, fmt.Errorf("sealing the client secret: %w", err)
	}
	return sealed, nil
}

// mayWeaken refuses a delegate moving an application from a key or
// certificate method to a shared secret: as with IP allowlists, delegated
// administration may only keep or raise what an operator set (an
// operator may require keys, e.g. for FAPI 2.0, which forbids shared
// secrets). Changing the keys, or moving to keys, is its to do, as
// resetting a secret is.
func (d *Delegate) mayWeaken(old, next store.ClientAuth) error {
	if d == nil || old.UsesSecret() || !next.UsesSecret() {
		return nil
	}
	return Forbidden("auth_method", fmt.Sprintf("delegated administration cannot move an application from %s to a shared secret (%s); only an admin key can", old.Method, methodOrLegacy(next.Method)))
}

// changeAuth applies an authentication setting to a, inside the
// compare-and-swap, and returns the audit detail of what changed (nil for
// nothing). want.Method "" keeps a's method. issued is the secret to give
// the application if the change needs one, made beforehand with its
// sealed copy, or sealErr why it could not be sealed.
//
// Secrets follow the method: a key or certificate method holds none (a
// shared secret left behind would still be a way in, so moving to keys
// removes them all); moving to client_secret_jwt replaces them with one
// sealed secret (older secrets were kept as digests only and cannot check
// an HMAC); moving from keys to a secret method issues one; moving from
// client_secret_jwt to another secret method keeps the secrets and drops
// their sealed copies, which that method does not need.
func (s *Service) changeAuth(d *Delegate, a *store.Application, want store.ClientAuth, issued store.Secret, sealErr error) (map[string]any, error) {
	if strings.TrimSpace(want.Method) == "" {
		want.Method = a.Auth.Method
	}
	next, err := checkAuth(want)
	if err != nil {
		return nil, err
	}
	if err := d.mayWeaken(a.Auth, next); err != nil {
		return nil, err
	}
	old := a.Auth
	detail := authDetail(next)
	previous := authDetail(old)
	if fmt.Sprint(detail) == fmt.Sprint(previous) {
		return nil, nil
	}
	detail["previous"] = previous
	switch {
	case !next.UsesSecret():
		if len(a.Secrets) > 0 {
			detail["secrets_removed"] = secretIDs(a.Secrets)
		}
		a.Secrets = nil
	case next.Method == store.AuthSecretJWT && old.Method != store.AuthSecretJWT:
		if sealErr != nil {
			return nil, sealErr
		}
		if len(a.Secrets) > 0 {
			detail["secrets_removed"] = secretIDs(a.Secrets)
		}
		a.Secrets = []store.Secret{issued}
		detail["secret_issued"] = issued.ID
	case !old.UsesSecret():
		issued.Sealed = nil
		a.Secrets = []store.Secret{issued}
		detail["secret_issued"] = issued.ID
	case old.Method == store.AuthSecretJWT:
		secrets := slices.Clone(a.Secrets)
		for i := range secrets {
			secrets[i].Sealed = nil
		}
		a.Secrets = secrets
	}
	a.Auth = next
	return detail, nil
}
