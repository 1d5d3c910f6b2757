package server

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// appendJSON appends the answer as encoding/json would encode it, byte for
// byte (TestIntrospectionEncoding holds the two together), without
// reflection: introspection is the busiest endpoint after token issue,
// and json.Marshal was a tenth of its CPU in process.
func (in *introspection) appendJSON(b []byte) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, in.Active)
	b = appendStringField(b, `,"scope":`, in.Scope)
	b = appendStringField(b, `,"client_id":`, in.ClientID)
	b = appendStringField(b, `,"token_type":`, in.TokenType)
	if in.Exp != 0 {
		b = strconv.AppendInt(append(b, `,"exp":`...), in.Exp, 10)
	}
	if in.Iat != 0 {
		b = strconv.AppendInt(append(b, `,"iat":`...), in.Iat, 10)
	}
	b = appendStringField(b, `,"sub":`, in.Sub)
	b = appendStringField(b, `,"iss":`, in.Iss)
	b = appendStringField(b, `,"jti":`, in.Jti)
	b = appendStringField(b, `,"owner":`, in.Owner)
	if len(in.Aud) > 0 {
		b = append(b, `,"aud":[`...)
		for i, a := range in.Aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = appendStringField(b, `,"inactive_reason":`, in.InactiveReason)
	if in.Cnf != nil {
		b = append(b, `,"cnf":{`...)
		mark := len(b)
		if in.Cnf.JKT != "" {
			b = appendJSONString(append(b, `"jkt":`...), in.Cnf.JKT)
		}
		if in.Cnf.X5tS256 != "" {
			if len(b) > mark {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `"x5t#S256":`...), in.Cnf.X5tS256)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendStringField appends an omitempty string member: name (with its
// leading comma and colon) and the value, or nothing for "".
func appendStringField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(b, name...), v)
}

// appendJSONString appends s as a JSON string. Printable ASCII that
// encoding/json leaves alone (everything but '"', '\\' and its HTML
// escapes '<', '>', '&') is copied; anything else, rare in these values,
// goes through encoding/json, so the escaping is exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// writeIntrospection answers in with status 200, as web.WriteJSON would.
// One allocation: an active answer is about 300 bytes.
func writeIntrospection(c echo.Context, in *introspection) error {
	b := in.appendJSON(make([]byte, 0, 384))
	h := c.Response().Header()
	h[echo.HeaderContentType] = jsonContentType
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(b)
	return err
}

// jsonContentType is shared and never modified: setting it allocates
// nothing.
var jsonContentType = []string{"application/json"}
