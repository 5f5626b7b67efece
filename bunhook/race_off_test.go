//go:build !race

package bunhook_test

const raceEnabled = false
