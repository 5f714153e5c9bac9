package sqlite

import "vigil/internal/store"

// ErrNoSecrets means a secret was to be written or read through a Store
// opened without WithSecrets. The store's other errors are store's.
var ErrNoSecrets = store.ErrNoSecrets
