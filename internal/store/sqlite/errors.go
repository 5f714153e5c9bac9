package sqlite

import "errors"

// ErrNoSecrets means a secret was to be written or read through a Store
// opened without WithSecrets. The store's other errors are store's.
var ErrNoSecrets = errors.New("store opened without the master key's secrets; open it with sqlite.WithSecrets")
