package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// parseInfo reads the "key:value" lines of Redis's INFO answer.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// commandCalls reads INFO commandstats ("cmdstat_get:calls=3,usec=...")
// into calls per command.
func commandCalls(info map[string]string) (map[string]int64, error) {
	calls := map[string]int64{}
	for k, v := range info {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		found := false
		for _, f := range strings.Split(v, ",") {
			if n, ok := strings.CutPrefix(f, "calls="); ok {
				c, err := strconv.ParseInt(n, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: bad calls %q", k, n)
				}
				calls[name] = c
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: no calls= field in %q", k, v)
		}
	}
	return calls, nil
}

// commandCost is the Redis commands one token issue costs: the total and
// each command's share.
type commandCost struct {
	Total  float64
	ByName []nameValue // largest first
}

type nameValue struct {
	Name  string
	Value float64
}

// notPerToken tells the commands that are no cost of issuing a token: the
// harness's own around the count, the handshake of a connection that
// oauthd's pool opened during it (paid once per connection, not per token),
// and what oauthd sends by the clock whatever the tokens: the feed's XREAD
// (a second) and the readiness check's PING.
func notPerToken(name string) bool {
	switch name {
	case "info", "config|resetstat", "hello", "client|setinfo", "xread", "ping":
		return true
	}
	return false
}

// perToken divides command calls by the number of tokens issued, leaving
// out those notPerToken names.
func perToken(calls map[string]int64, tokens int) commandCost {
	var c commandCost
	for name, n := range calls {
		if notPerToken(name) || n == 0 {
			continue
		}
		v := float64(n) / float64(tokens)
		c.Total += v
		c.ByName = append(c.ByName, nameValue{name, v})
	}
	sort.Slice(c.ByName, func(i, j int) bool {
		if c.ByName[i].Value != c.ByName[j].Value {
			return c.ByName[i].Value > c.ByName[j].Value
		}
		return c.ByName[i].Name < c.ByName[j].Name
	})
	return c
}

// info runs INFO section and parses it.
func info(ctx context.Context, rdb *goredis.Client, section string) (map[string]string, error) {
	s, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO %s: %w", section, err)
	}
	return parseInfo(s), nil
}

// infoInt reads one integer field of an INFO section.
func infoInt(ctx context.Context, rdb *goredis.Client, section, key string) (int64, error) {
	m, err := info(ctx, rdb, section)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(m[key], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis INFO %s: no integer %s", section, key)
	}
	return n, nil
}
