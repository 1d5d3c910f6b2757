package main

import (
	"context"
	"fmt"
	"io"
)

// redisCost is what issuing tokens costs Redis.
type redisCost struct {
	Commands      commandCost
	StatTokens    int
	BytesPerToken float64
	KeysPerToken  float64
	MemoryTokens  int
	Before, After int64 // used_memory
}

// redisCosts counts the Redis commands per token issue and the memory per
// live token. It runs before any load, while oauthd is the only client
// issuing tokens and nothing else writes to Redis.
func (r *rig) redisCosts(ctx context.Context, opts options, stdout io.Writer) (redisCost, error) {
	c := redisCost{StatTokens: opts.StatTokens, MemoryTokens: opts.MemoryTokens}
	issue := func(n int) error {
		return parallel(ctx, n, clientConns, func(ctx context.Context, _ int) error {
			_, err := r.oauthd.issue(ctx, r.daemon)
			return err
		})
	}

	// Commands: a first round grows oauthd's Redis connection pool, so
	// the counted round holds no connection handshakes (HELLO, CLIENT
	// SETINFO), only what issuing costs.
	if err := issue(opts.StatTokens); err != nil {
		return c, fmt.Errorf("issuing tokens: %w", err)
	}
	if err := r.rdb.ConfigResetStat(ctx).Err(); err != nil {
		return c, fmt.Errorf("redis CONFIG RESETSTAT: %w", err)
	}
	if err := issue(opts.StatTokens); err != nil {
		return c, fmt.Errorf("issuing tokens: %w", err)
	}
	stats, err := info(ctx, r.rdb, "commandstats")
	if err != nil {
		return c, err
	}
	calls, err := commandCalls(stats)
	if err != nil {
		return c, err
	}
	c.Commands = perToken(calls, opts.StatTokens)
	fmt.Fprintf(stdout, "redis:    %.2f commands per token issue (%d tokens counted)\n", c.Commands.Total, opts.StatTokens)

	// Memory: used_memory before and after exactly MemoryTokens live
	// (24h) tokens. It includes the growth of Redis's hash tables, which
	// is part of what a token costs.
	keysBefore, err := r.rdb.DBSize(ctx).Result()
	if err != nil {
		return c, fmt.Errorf("redis DBSIZE: %w", err)
	}
	if c.Before, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return c, err
	}
	if err := issue(opts.MemoryTokens); err != nil {
		return c, fmt.Errorf("issuing tokens: %w", err)
	}
	if c.After, err = infoInt(ctx, r.rdb, "memory", "used_memory"); err != nil {
		return c, err
	}
	keysAfter, err := r.rdb.DBSize(ctx).Result()
	if err != nil {
		return c, fmt.Errorf("redis DBSIZE: %w", err)
	}
	c.BytesPerToken = float64(c.After-c.Before) / float64(opts.MemoryTokens)
	c.KeysPerToken = float64(keysAfter-keysBefore) / float64(opts.MemoryTokens)
	fmt.Fprintf(stdout, "redis:    %.0f bytes per live token (%d tokens issued)\n", c.BytesPerToken, opts.MemoryTokens)
	return c, nil
}
