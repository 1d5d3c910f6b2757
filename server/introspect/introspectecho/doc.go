// Package introspectecho adapts package introspect to echo: the same
// checks and the same RFC 6750 refusals, as echo middleware.
//
//	client, err := introspect.New(introspect.Config{Issuer: issuer, ClientID: id, ClientSecret: secret})
//	if err != nil {
//		return err
//	}
//	e := echo.New()
//	e.POST("/sms", sendSMS, introspectecho.Middleware(client, "sms"))
//
//	func sendSMS(c echo.Context) error {
//		info, _ := introspectecho.Info(c)
//		return c.String(http.StatusOK, "sent for "+info.ClientID)
//	}
package introspectecho
