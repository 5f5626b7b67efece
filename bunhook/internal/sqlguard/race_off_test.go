//go:build !race

package sqlguard

const raceEnabled = false
