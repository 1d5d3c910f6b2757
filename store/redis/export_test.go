package redis

// What the external tests (package redis_test) share with these.
var (
	KeysOf     = keysOf
	UsedMemory = usedMemory
)
