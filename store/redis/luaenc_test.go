package redis

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// The scripts' base36 and uvarint, unrolled for Redis's Lua, write what
// strconv.FormatInt(n, 36) and binary.AppendUvarint write, on each side
// of every unrolled step and up to 2^53, the largest whole number a Lua
// number holds exactly.
func TestLuaEncoders(t *testing.T) {
	t.Parallel()
	enc := goredis.NewScript(base36Lua + uvarintLua + `
local out = {}
for i = 1, #ARGV do
  local n = tonumber(ARGV[i])
  out[#out + 1] = base36(n)
  out[#out + 1] = uvarint(n)
end
return out
`)
	ns := []int64{0, 1, 9, 10, 35, 36, 127, 128, 1295, 1296, 16383, 16384, 1<<53 - 1, 1 << 53,
		1796647009, 1796647009000, 86_400_000, 499068}
	for p := int64(1); p < 1<<53; p *= 36 {
		ns = append(ns, p-1, p, p+1)
	}
	for p := int64(1); p < 1<<53; p *= 128 {
		ns = append(ns, p-1, p, p+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ns = append(ns, r.Int64N(1<<53))
	}
	args := make([]any, len(ns))
	for i, n := range ns {
		args[i] = n
	}
	onEachRedis(t, func(t *testing.T, rdb goredis.UniversalClient) {
		got, err := enc.Run(context.Background(), rdb, nil, args...).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range ns {
			if want := strconv.FormatInt(n, 36); got[2*i] != want {
				t.Errorf("base36(%d) = %q, want %q", n, got[2*i], want)
			}
			if want := string(binary.AppendUvarint(nil, uint64(n))); got[2*i+1] != want {
				t.Errorf("uvarint(%d) = %x, want %x", n, got[2*i+1], want)
			}
		}
	})
}
