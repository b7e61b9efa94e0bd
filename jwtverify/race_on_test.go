//go:build race

package jwtverify

// raceEnabled says whether the tests run under the race detector, whose
// sync.Pool drops items at random: allocation counts are then not the
// program's.
const raceEnabled = true
