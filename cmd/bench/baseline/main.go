// Command baseline is the floor `make bench` measures oauthd against: the
// least a token endpoint backed by Redis can do, written as plainly as Go
// allows. It is not a server to deploy.
//
//	POST /token  read the form and Basic credentials, one Redis GET (a
//	             ~400-byte record stored at start, standing in for the
//	             application), one SET of a new random key with a one-day
//	             TTL (the token), and a token-shaped JSON answer
//	GET  /bare   a fixed small JSON answer, no Redis: the floor for a
//	             resource server's route
//
// It logs one JSON line, "baseline listening" with the address, when it is
// ready; cmd/bench waits for that line.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// appKey holds the record every /token request reads, as oauthd reads the
// calling application's.
const appKey = "baseline:app"

// tokenTTL is the lifetime of the keys /token writes: the benchmark's
// applications have 24h tokens too.
const tokenTTL = 24 * time.Hour

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	opts, err := redis.ParseURL(*redisURL)
	if err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	// A 400-byte record, about the size of an oauthd application.
	if err := rdb.Set(ctx, appKey, strings.Repeat("a", 400), 0).Err(); err != nil {
		return fmt.Errorf("storing the application record: %w", err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: routes(rdb), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("baseline listening", "addr", ln.Addr().String())
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

func routes(rdb *redis.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", token(rdb))
	mux.HandleFunc("GET /bare", bare)
	return mux
}

// tokenRecord is what each SET stores: about the size of an oauthd token
// record.
const tokenRecord = `{"client_id":"baselinebaselinebaselinebase","scope":"sms groups","iat":1700000000,"exp":1700086400}`

func token(rdb *redis.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Reading the form and the credentials is work any token
		// endpoint does, so the floor does it too.
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		if _, _, ok := r.BasicAuth(); !ok {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if err := rdb.Get(r.Context(), appKey).Err(); err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		tok := newToken()
		if err := rdb.Set(r.Context(), "baseline:tok:"+tok, tokenRecord, tokenTTL).Err(); err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":86400,"scope":"sms groups"}`, tok)
	}
}

// bareBody is sms-api's GET /v1/groups answer, so the two routes write the
// same bytes.
const bareBody = `{"groups":[{"id":"grp_customers","name":"Customers","members":1250},{"id":"grp_staff","name":"Staff","members":48}]}` + "\n"

func bare(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, bareBody) // a string writer: no copy per request
}

// newToken is 32 random bytes, as many as an oauthd token carries.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
