//go:build !race

package bunhook

const raceDetector = false
