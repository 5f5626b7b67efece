//go:build race

package otelobs_test

const raceEnabled = true
