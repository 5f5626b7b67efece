//go:build race

package sqlguard

// raceEnabled: sync.Pool randomly drops items under the race detector, so
// allocation counts are not meaningful.
const raceEnabled = true
