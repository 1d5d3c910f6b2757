// Command echoapi is the floor `make bench` measures the introspection
// middleware against in its own framework (issue 23): one echo server,
// two routes writing the same answer, byte for byte sms-api's GET
// /v1/groups, one behind introspectecho.Middleware and one without it.
// The ratio of the two is the middleware's own cost; sms-api against the
// baseline's bare net/http route also counts echo and sms-api's access
// line. It logs nothing per request. It is not a server to deploy.
//
//	GET /bare       the answer, no check
//	GET /v1/groups  the answer behind the middleware (scope groups), its
//	                introspection cache at 5 minutes, so a repeated token
//	                is a cache hit
//
// The resource server's credentials come from the environment
// (ECHOAPI_CLIENT_ID, ECHOAPI_CLIENT_SECRET), not argv, where ps would
// show them. It logs one JSON line, "echoapi listening", when it is
// ready; cmd/bench waits for that line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/introspect/introspectecho"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "echoapi:", err)
		os.Exit(1)
	}
}

// body is sms-api's GET /v1/groups answer (and the baseline's /bare).
const body = `{"groups":[{"id":"grp_customers","name":"Customers","members":1250},{"id":"grp_staff","name":"Staff","members":48}]}` + "\n"

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("echoapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8091", "address to listen on")
	issuer := fs.String("issuer", "", "oauthd's issuer URL (its metadata names the introspection endpoint)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *issuer == "" || getenv("ECHOAPI_CLIENT_ID") == "" || getenv("ECHOAPI_CLIENT_SECRET") == "" {
		return errors.New("-issuer, ECHOAPI_CLIENT_ID and ECHOAPI_CLIENT_SECRET are required")
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	client, err := introspect.New(introspect.Config{
		Issuer: *issuer, ClientID: getenv("ECHOAPI_CLIENT_ID"), ClientSecret: getenv("ECHOAPI_CLIENT_SECRET"),
		CacheTTL: 5 * time.Minute, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: routes(client), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("echoapi listening", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// routes are the two routes, set up as sms-api sets its own (the check
// wraps the handler once, at registration).
func routes(client *introspect.Client) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	answer := []byte(body) // converted once, not per request
	groups := func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, answer) }
	e.GET("/bare", groups)
	e.GET("/v1/groups", introspectecho.Middleware(client, "groups")(groups))
	return e
}
