package latchkey

import "time"

// SigningKey is a key latchkey signs its own JWTs with. Keys live in the store
// so that every node signs and verifies with the same set; rotation adds a new
// key while older ones stay published until RetireAt.
type SigningKey struct {
	ID         string    `json:"kid"`
	Algorithm  string    `json:"alg"` // EdDSA, ES256 or RS256
	PrivateKey []byte    `json:"-"`   // PKCS #8, DER; never shown
	PublicKey  []byte    `json:"-"`   // PKIX, DER
	CreatedAt  time.Time `json:"created"`
	ActiveAt   time.Time `json:"active"` // signs new tokens from this time
	RetireAt   time.Time `json:"retire"` // removed from the published set at this time
}
