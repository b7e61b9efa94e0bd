//go:build !race

package jwtverify

const raceEnabled = false
