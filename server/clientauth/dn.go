package clientauth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// attribute is one attribute type and value of a DN, the type as a
// dotted OID. ber marks a value of a non-string type, held as "#" and
// the hex of its DER.
type attribute struct {
	oid, value string
	ber        bool
}

// dn is a distinguished name in RFC 4514 string order (most specific RDN
// first), each RDN's attributes sorted (their order carries no meaning).
type dn [][]attribute

// Attribute types by name (RFC 4514 §3, RFC 4519, and PKCS #9's
// emailAddress as certificates carry it), looked up ignoring case.
var attributeOIDs = map[string]string{
	"CN": "2.5.4.3", "COMMONNAME": "2.5.4.3",
	"SN": "2.5.4.4", "SURNAME": "2.5.4.4",
	"SERIALNUMBER": "2.5.4.5",
	"C":            "2.5.4.6", "COUNTRYNAME": "2.5.4.6",
	"L": "2.5.4.7", "LOCALITYNAME": "2.5.4.7",
	"ST": "2.5.4.8", "STATEORPROVINCENAME": "2.5.4.8",
	"STREET": "2.5.4.9", "STREETADDRESS": "2.5.4.9",
	"O": "2.5.4.10", "ORGANIZATIONNAME": "2.5.4.10",
	"OU": "2.5.4.11", "ORGANIZATIONALUNITNAME": "2.5.4.11",
	"TITLE":      "2.5.4.12",
	"POSTALCODE": "2.5.4.17",
	"GIVENNAME":  "2.5.4.42", "GN": "2.5.4.42",
	"DC": "0.9.2342.19200300.100.1.25", "DOMAINCOMPONENT": "0.9.2342.19200300.100.1.25",
	"UID": "0.9.2342.19200300.100.1.1", "USERID": "0.9.2342.19200300.100.1.1",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
}

// attributeNames is how the normalised form writes a type.
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "TITLE",
	"2.5.4.17": "POSTALCODE", "2.5.4.42": "GIVENNAME", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "EMAILADDRESS",
}

// ValidateSubjectDN parses a subject DN in the RFC 4514 string form (as
// tls_client_auth_subject_dn is registered, RFC 8705 §2.1.2) and returns
// its normalised form, the one a certificate's subject is compared with:
// attribute types by their short name (or dotted OID), whatever case they
// were written in; values unescaped and re-escaped minimally; the
// attributes of a multi-valued RDN sorted. Values compare exactly, case
// included. As a convenience, spaces around separators, common in DNs
// written by hand ("CN=svc, O=Example"), are ignored.
func ValidateSubjectDN(s string) (string, error) {
	d, err := parseDN(s)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func parseDN(s string) (dn, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("subject DN is empty")
	}
	if len(s) > 1024 {
		return nil, errors.New("subject DN is longer than 1024 characters")
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("subject DN is not UTF-8")
	}
	var d dn
	var rdn []attribute
	i := 0
	for {
		attr, next, sep, err := parseAttribute(s, i)
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, attr)
		i = next
		if sep == '+' {
			continue
		}
		d = append(d, sortRDN(rdn))
		rdn = nil
		if sep == 0 {
			return d, nil
		}
	}
}

// parseAttribute reads "type=value" at s[i:], up to an unescaped ',' or
// '+' (returned as sep, 0 at the end).
func parseAttribute(s string, i int) (attribute, int, byte, error) {
	eq := strings.IndexByte(s[i:], '=')
	if eq < 0 {
		return attribute{}, 0, 0, fmt.Errorf("subject DN: %q has no \"=\"", truncate(strings.TrimSpace(s[i:]), 64))
	}
	typ := strings.TrimSpace(s[i : i+eq])
	oid, err := attributeOID(typ)
	if err != nil {
		return attribute{}, 0, 0, err
	}
	i += eq + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' {
		j := i + 1
		for j < len(s) && s[j] != ',' && s[j] != '+' && s[j] != ' ' {
			j++
		}
		value, ber, err := hexValue(s[i+1 : j])
		if err != nil {
			return attribute{}, 0, 0, fmt.Errorf("subject DN: %s: %v", typ, err)
		}
		for j < len(s) && s[j] == ' ' {
			j++
		}
		sep, next, err := separator(s, j)
		return attribute{oid, value, ber}, next, sep, err
	}
	var b strings.Builder
	keep := 0 // length of b up to its last escaped or non-space byte
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return attribute{}, 0, 0, errors.New("subject DN ends in a lone \"\\\"")
			}
			if n := s[i+1]; strings.IndexByte(` "#+,;<=>\`, n) >= 0 {
				b.WriteByte(n)
				i += 2
			} else if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				x, _ := hex.DecodeString(s[i+1 : i+3])
				b.WriteByte(x[0])
				i += 3
			} else {
				return attribute{}, 0, 0, fmt.Errorf("subject DN: bad escape \"\\%c\" in %s", n, typ)
			}
			keep = b.Len()
		case c == ',' || c == '+':
			value := b.String()[:keep]
			if !utf8.ValidString(value) {
				return attribute{}, 0, 0, fmt.Errorf("subject DN: %s value is not UTF-8", typ)
			}
			return attribute{oid: oid, value: value}, i + 1, c, nil
		case c == '"' || c == ';' || c == '<' || c == '>' || c == '=':
			return attribute{}, 0, 0, fmt.Errorf("subject DN: %q must be escaped in %s's value", c, typ)
		default:
			b.WriteByte(c)
			if c != ' ' {
				keep = b.Len()
			}
			i++
		}
	}
	value := b.String()[:keep]
	if !utf8.ValidString(value) {
		return attribute{}, 0, 0, fmt.Errorf("subject DN: %s value is not UTF-8", typ)
	}
	return attribute{oid: oid, value: value}, len(s), 0, nil
}

func separator(s string, j int) (byte, int, error) {
	if j >= len(s) {
		return 0, len(s), nil
	}
	if s[j] == ',' || s[j] == '+' {
		return s[j], j + 1, nil
	}
	return 0, 0, fmt.Errorf("subject DN: unexpected %q after a #hex value", s[j])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func attributeOID(typ string) (string, error) {
	if typ == "" {
		return "", errors.New("subject DN: an attribute has no type")
	}
	if oid, ok := attributeOIDs[strings.ToUpper(typ)]; ok {
		return oid, nil
	}
	t := strings.TrimPrefix(strings.TrimPrefix(typ, "OID."), "oid.")
	parts := strings.Split(t, ".")
	ok := len(parts) >= 2
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			ok = false
		}
	}
	if !ok {
		return "", fmt.Errorf("subject DN: unknown attribute type %q (use a dotted OID)", truncate(typ, 32))
	}
	return t, nil
}

// hexValue decodes a "#hex" value (the BER of the value): a string type
// becomes its string, anything else stays "#" and its hex, lower case.
func hexValue(h string) (value string, ber bool, err error) {
	der, err := hex.DecodeString(h)
	if err != nil || len(der) == 0 {
		return "", false, errors.New("bad #hex value")
	}
	var rv asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &rv); err != nil || len(rest) > 0 {
		return "", false, errors.New("#hex value is not one DER element")
	}
	if s, ok := derString(rv); ok {
		return s, false, nil
	}
	return "#" + hex.EncodeToString(der), true, nil
}

// derString decodes the universal string types a DN holds.
func derString(rv asn1.RawValue) (string, bool) {
	if rv.Class != asn1.ClassUniversal || rv.IsCompound {
		return "", false
	}
	switch rv.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		if utf8.Valid(rv.Bytes) {
			return string(rv.Bytes), true
		}
	case asn1.TagBMPString:
		if len(rv.Bytes)%2 == 0 {
			u := make([]uint16, len(rv.Bytes)/2)
			for i := range u {
				u[i] = uint16(rv.Bytes[2*i])<<8 | uint16(rv.Bytes[2*i+1])
			}
			return string(utf16.Decode(u)), true
		}
	}
	return "", false
}

func sortRDN(rdn []attribute) []attribute {
	slices.SortFunc(rdn, func(a, b attribute) int {
		if c := strings.Compare(a.oid, b.oid); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	return rdn
}

// String writes d in RFC 4514 form, normalised.
func (d dn) String() string {
	var b strings.Builder
	for i, rdn := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			if name, ok := attributeNames[a.oid]; ok {
				b.WriteString(name)
			} else {
				b.WriteString(a.oid)
			}
			b.WriteByte('=')
			if a.ber {
				b.WriteString(a.value)
			} else {
				b.WriteString(escapeValue(a.value))
			}
		}
	}
	return b.String()
}

// escapeValue escapes a string value as RFC 4514 §2.4 requires.
func escapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// certSubject is the normalised RFC 4514 form of a certificate's
// subject, read from its DER so that the order and grouping of its RDNs
// are kept.
func certSubject(c *x509.Certificate) string {
	var seq pkix.RDNSequence
	var d dn
	if rest, err := asn1.Unmarshal(c.RawSubject, &seq); err == nil && len(rest) == 0 {
		for i := len(seq) - 1; i >= 0; i-- {
			var rdn []attribute
			for _, atv := range seq[i] {
				rdn = append(rdn, certAttribute(atv))
			}
			d = append(d, sortRDN(rdn))
		}
		return d.String()
	}
	// Names is the subject in DER order, its RDNs flattened.
	for i := len(c.Subject.Names) - 1; i >= 0; i-- {
		atv := c.Subject.Names[i]
		d = append(d, []attribute{certAttribute(atv)})
	}
	return d.String()
}

func certAttribute(atv pkix.AttributeTypeAndValue) attribute {
	a := attribute{oid: atv.Type.String()}
	if s, ok := atv.Value.(string); ok {
		a.value = s
		return a
	}
	der, _ := asn1.Marshal(atv.Value) // an unmarshalled value marshals
	a.value, a.ber = "#"+hex.EncodeToString(der), true
	return a
}
