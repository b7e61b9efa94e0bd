package credential

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// The cache invariant
//
// Once this node has heard a change, no request that starts afterwards is
// answered from state older than that change — whatever was cached,
// reloaded or signed in before, and in whatever order.
//
// It is kept by one rule, applied at every read of every cache of this
// package, rather than by removing entries when a change comes:
//
//   - The service counts the changes it has heard (versions.heard).
//   - Every cached entry carries a stamp: the count read before the first
//     store read it was built from, and the subjects it depends on (its
//     user; its key or session; all sessions of its user).
//   - A change heard raises the count, and then records the new count for
//     each subject it touches, in a fixed table indexed by a hash of the
//     subject. Changes that may touch anyone (a role's abilities, a resync
//     of the feed after a gap) record it as a floor for every subject.
//   - An entry is used only if its count is at least the floor and the
//     table's value for each of its subjects. Otherwise it is reloaded.
//
// Why that suffices: a change is heard only after it is committed. An
// entry whose count was read after the change raised the count was read
// from the store after the commit, so it reflects the change. An entry
// whose count was read before may not, and its count is lower than what
// the change recorded for its subject, so it is not used again — no matter
// which cache holds it, which other entry shares its user, or whether it
// was stored after the change was heard (a load that overlapped the
// change). Nothing is compared by object identity, and no entry must be
// found and removed for the rule to hold. Subjects that share a slot of
// the table only cost each other a reload. Removing entries on a change is
// still done where it is cheap, but only to free memory.
type versions struct {
	heard atomic.Uint64
	floor atomic.Uint64
	slots [versionSlots]atomic.Uint64
}

// versionSlots is the size of the table: 128 KiB, fixed.
const versionSlots = 1 << 14

// subjectSeed hashes subjects to slots; one per process.
var subjectSeed = maphash.MakeSeed()

// Kinds of subject, so that a user id and a key id never share a hash by
// construction.
const (
	subjectUser byte = iota + 1
	subjectKey
	subjectSession
	subjectUserSessions
)

type subjectOf[T comparable] struct {
	kind byte
	id   T
}

// slotOf returns the slot of a subject.
func slotOf[T comparable](kind byte, id T) uint16 {
	return uint16(maphash.Comparable(subjectSeed, subjectOf[T]{kind, id}) % versionSlots)
}

// stamp is what a cached entry was built from: the count of changes heard
// before its first store read, and the slots of the subjects it depends on.
type stamp struct {
	heard uint64
	slots [4]uint16 // the most an entry depends on: a session opened with a key (session, user's sessions, user, key)
	n     uint8
}

// begin returns the stamp of an entry about to be read from the store,
// depending on the subjects in slots. It must be called before the first
// store read of the entry.
func (v *versions) begin(slots ...uint16) stamp {
	st := stamp{heard: v.heard.Load()}
	return st.with(slots...)
}

// with returns st also depending on the subjects in slots. A slot it has
// already is not added again. More subjects than a stamp has room for is
// a mistake in this package: a dropped one would keep an entry past its
// change, so it panics instead.
func (st stamp) with(slots ...uint16) stamp {
	for _, s := range slots {
		if slices.Contains(st.slots[:st.n], s) {
			continue
		}
		if st.n == uint8(len(st.slots)) {
			panic("credential: an entry depends on more subjects than a stamp holds")
		}
		st.slots[st.n] = s
		st.n++
	}
	return st
}

// join returns a stamp for an entry built from both st and o: the older
// count, and the subjects of both.
func (st stamp) join(o stamp) stamp {
	st.heard = min(st.heard, o.heard)
	return st.with(o.slots[:o.n]...)
}

// fresh reports whether an entry with stamp st may be used: no change of
// any of its subjects has been heard since its count was read.
func (v *versions) fresh(st *stamp) bool {
	if st.heard < v.floor.Load() {
		return false
	}
	for _, s := range st.slots[:st.n] {
		if st.heard < v.slots[s].Load() {
			return false
		}
	}
	return true
}

// changed records a change of the subjects in slots.
func (v *versions) changed(slots ...uint16) {
	n := v.heard.Add(1)
	for _, s := range slots {
		raise(&v.slots[s], n)
	}
}

// changedAll records a change that may touch every subject.
func (v *versions) changedAll() {
	raise(&v.floor, v.heard.Add(1))
}

// raise sets a to n unless it is higher already: changes may be heard on
// several goroutines at once, and a slot must never go back.
func raise(a *atomic.Uint64, n uint64) {
	for {
		old := a.Load()
		if old >= n || a.CompareAndSwap(old, n) {
			return
		}
	}
}

func userSlot(id int64) uint16         { return slotOf(subjectUser, id) }
func keySlot(id string) uint16         { return slotOf(subjectKey, id) }
func sessionSlot(id string) uint16     { return slotOf(subjectSession, id) }
func userSessionsSlot(id int64) uint16 { return slotOf(subjectUserSessions, id) }
