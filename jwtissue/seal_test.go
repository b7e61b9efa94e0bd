package jwtissue

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	sealA = bytes.Repeat([]byte{0xa}, 32)
	sealB = bytes.Repeat([]byte{0xb}, 32)
)

// issuerWith is an issuer with c's signing settings (the configuration's
// defaults for those c leaves zero) and opt's seal keys.
func issuerWith(t *testing.T, st latchkey.Store, c Options, opt Options, clk *clock) (*Issuer, error) {
	t.Helper()
	c = configured(c)
	c.SealKey, c.PreviousSealKey = opt.SealKey, opt.PreviousSealKey
	is, err := newIssuer(context.Background(), st, quiet(), c, clk.now)
	if err == nil {
		t.Cleanup(func() { is.Close() })
	}
	return is, err
}

func storedKeys(t *testing.T, st latchkey.Store) []*latchkey.SigningKey {
	t.Helper()
	rows, err := st.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func signAndVerify(t *testing.T, is *Issuer) string {
	t.Helper()
	raw, _, err := is.Sign(context.Background(), goran)
	if err != nil {
		t.Fatal(err)
	}
	r, err := is.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return r.KeyID
}

// TestStoredKeyIsSealed: the private half in the store is neither plain
// PKCS #8 nor contains it, for each algorithm.
func TestStoredKeyIsSealed(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			st := openStores(t, 1)[0]
			is, err := issuerWith(t, st, Options{Algorithm: alg}, Options{SealKey: sealA}, newClock())
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, is)
			der, err := x509.MarshalPKCS8PrivateKey(is.set.Load().keys[0].private)
			if err != nil {
				t.Fatal(err)
			}
			rows := storedKeys(t, st)
			if len(rows) != 1 {
				t.Fatalf("%d keys stored", len(rows))
			}
			p := rows[0].PrivateKey
			if len(p) == 0 || p[0] == 0x30 || !bytes.HasPrefix(p, []byte(sealPrefix)) {
				t.Errorf("stored private key starts %x, want the prefix %q", p[:min(len(p), 8)], sealPrefix)
			}
			if bytes.Contains(p, der) || bytes.Contains(p, der[len(der)/2:]) {
				t.Error("the stored private key contains the key in the clear")
			}
			if _, err := x509.ParsePKCS8PrivateKey(p); err == nil {
				t.Error("the stored private key parses as PKCS #8")
			}
		})
	}
}

// TestPlainKeyStillLoads: a key stored unsealed, as before seal keys
// sealed them, still signs and verifies, and no other key is made for it.
func TestPlainKeyStillLoads(t *testing.T) {
	st := openStores(t, 1)[0]
	clk := newClock()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pub, _ := x509.MarshalPKIXPublicKey(priv.Public())
	now := clk.now()
	plain := &latchkey.SigningKey{ID: "plain-kid", Algorithm: "ES256", PrivateKey: der, PublicKey: pub,
		CreatedAt: now, ActiveAt: now, RetireAt: now.Add(744 * time.Hour)}
	if err := st.CreateSigningKey(context.Background(), plain); err != nil {
		t.Fatal(err)
	}
	is, err := issuerWith(t, st, Options{}, Options{SealKey: sealA}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if kid := signAndVerify(t, is); kid != "plain-kid" {
		t.Errorf("signed with %q, want the stored plain key", kid)
	}
	if n := len(storedKeys(t, st)); n != 1 {
		t.Errorf("%d keys stored, want the plain one only", n)
	}
}

// TestWrongSealKeyFailsNew: a node whose seal key does not open the stored
// keys refuses to start, says which setting to fix, and makes no key of
// its own.
func TestWrongSealKeyFailsNew(t *testing.T) {
	stores := openStores(t, 2)
	clk := newClock()
	if _, err := issuerWith(t, stores[0], Options{}, Options{SealKey: sealA}, clk); err != nil {
		t.Fatal(err)
	}
	_, err := issuerWith(t, stores[1], Options{}, Options{SealKey: sealB}, clk)
	if err == nil {
		t.Fatal("an issuer with another seal key started")
	}
	if !strings.Contains(err.Error(), "LATCHKEY_SEAL_KEY") {
		t.Errorf("error %q does not name LATCHKEY_SEAL_KEY", err)
	}
	if n := len(storedKeys(t, stores[1])); n != 1 {
		t.Errorf("%d keys stored, want the first node's only", n)
	}
	if _, err := issuerWith(t, stores[1], Options{}, Options{}, clk); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("no seal key: %v", err)
	}
}

// TestSealedKeyBoundToKid: a sealed private half moved to another key id
// does not open.
func TestSealedKeyBoundToKid(t *testing.T) {
	st := openStores(t, 1)[0]
	clk := newClock()
	is, err := issuerWith(t, st, Options{}, Options{SealKey: sealA}, clk)
	if err != nil {
		t.Fatal(err)
	}
	is.Close()
	r := storedKeys(t, st)[0]
	if err := st.DeleteSigningKey(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	moved := *r
	moved.ID = r.ID + "x"
	if err := st.CreateSigningKey(context.Background(), &moved); err != nil {
		t.Fatal(err)
	}
	if _, err := issuerWith(t, st, Options{}, Options{SealKey: sealA}, clk); err == nil {
		t.Error("a sealed key opened under another kid")
	}
}

// TestSealKeyRotation: with the new seal key and the previous one, keys
// sealed with the previous still sign; keys made then are sealed with the
// new one; once the old keys have rotated out, the previous key can go.
func TestSealKeyRotation(t *testing.T) {
	st := openStores(t, 1)[0]
	clk := newClock()
	c := Options{Lifetime: time.Hour, RotateEvery: 2 * time.Hour}
	old, err := issuerWith(t, st, c, Options{SealKey: sealA}, clk)
	if err != nil {
		t.Fatal(err)
	}
	first := signAndVerify(t, old)
	old.Close()

	is, err := issuerWith(t, st, c, Options{SealKey: sealB, PreviousSealKey: sealA}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if kid := signAndVerify(t, is); kid != first {
		t.Errorf("signed with %q, want %q (sealed with the previous key)", kid, first)
	}
	clk.advance(2 * time.Hour)
	if err := is.maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := signAndVerify(t, is)
	if second == first {
		t.Fatal("no rotation")
	}
	for _, r := range storedKeys(t, st) {
		if r.ID != second {
			continue
		}
		if _, err := mustSealer(t, sealB).open(r.ID, r.PrivateKey); err != nil {
			t.Errorf("the new key does not open with the current seal key: %v", err)
		}
		if _, err := mustSealer(t, sealA).open(r.ID, r.PrivateKey); err == nil {
			t.Error("the new key opens with the previous seal key")
		}
	}
	if _, err := issuerWith(t, st, c, Options{SealKey: sealB}, clk); err == nil {
		t.Error("started without the previous seal key while a key sealed with it is stored")
	}
	clk.advance(time.Hour) // the first key retires: rotate_every + lifetime
	if err := is.maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, err := issuerWith(t, st, c, Options{SealKey: sealB}, clk)
	if err != nil {
		t.Fatalf("without the previous seal key once the old keys are gone: %v", err)
	}
	if kid := signAndVerify(t, after); kid != second {
		t.Errorf("signed with %q, want %q", kid, second)
	}
}

// mustSealer returns a sealer of the one seal key.
func mustSealer(t *testing.T, key []byte) *sealer {
	t.Helper()
	s, err := newSealer(Options{SealKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRetiredUnopenedKeyIsDeleted: a key that the seal keys do not open
// but that has retired (no token it signed is valid) does not stop a
// start; it is deleted.
func TestRetiredUnopenedKeyIsDeleted(t *testing.T) {
	st := openStores(t, 1)[0]
	clk := newClock()
	old, err := issuerWith(t, st, Options{}, Options{SealKey: sealA}, clk)
	if err != nil {
		t.Fatal(err)
	}
	first := signAndVerify(t, old)
	old.Close()
	clk.advance(744 * time.Hour) // rotate_every + lifetime
	is, err := issuerWith(t, st, Options{}, Options{SealKey: sealB}, clk)
	if err != nil {
		t.Fatal(err)
	}
	if kid := signAndVerify(t, is); kid == first {
		t.Error("signed with the retired key")
	}
	for _, r := range storedKeys(t, st) {
		if r.ID == first {
			t.Error("the retired key was not deleted")
		}
	}
}
