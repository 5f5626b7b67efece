//go:build race

package bunhook

// raceDetector: allocation counts are not meaningful under the race
// detector (sync.Pool drops items at random).
const raceDetector = true
