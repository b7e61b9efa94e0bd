package jwtmint_test

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/latchkey/latchkey/jwtmint"
)

// A token for a QSEoW virtual proxy whose audience is abc123, signed with a
// new key whose certificate goes into the virtual proxy's configuration.
func Example() {
	kp, err := jwtmint.NewKeyPair("RS256", jwtmint.KeyPairOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	if _, err := kp.WriteFiles(dir, "", false); err != nil { // publickey.pem, privatekey.pem, publickey.cer
		log.Fatal(err)
	}
	signer, err := jwtmint.NewSigner("RS256", kp.Key)
	if err != nil {
		log.Fatal(err)
	}
	token, _, err := jwtmint.QSEoW{
		UserDirectory: "LAB", UserID: "goran", Name: "Göran Sander", Audience: "abc123",
		Expires: 365 * 24 * time.Hour, IssuedAt: time.Unix(1647621196, 0),
	}.Mint(signer)
	if err != nil {
		log.Fatal(err)
	}

	header, claims, _ := jwtmint.Decode(token)
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	fmt.Println(string(h))
	fmt.Println(string(c))
	// Output:
	// {"alg":"RS256","typ":"JWT"}
	// {"aud":"abc123","email":"","exp":1679157196,"iat":1647621196,"name":"Göran Sander","userDirectory":"LAB","userId":"goran"}
}

// A token for Qlik Cloud's /login/jwt-session, signed with an existing key
// whose certificate and key ID are those of the tenant's JWT identity
// provider.
func ExampleCloud() {
	key, err := jwtmint.GenerateKey("ES256", 0) // or jwtmint.ParsePrivateKey(pemBytes)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := jwtmint.NewSigner("ES256", key)
	if err != nil {
		log.Fatal(err)
	}
	token, claims, err := jwtmint.Cloud{
		Subject: "auth0|a08D000001", Name: "Ann Andersson", Email: "ann@example.com",
		Groups: []string{"Analysts"}, Issuer: "https://idp.example.com",
		KeyID: "0330d3e7-1966-41c4-b3ef-d311d1ff7191", Expires: time.Hour,
	}.Mint(signer)
	if err != nil {
		log.Fatal(err)
	}
	header, _, _ := jwtmint.Decode(token)
	fmt.Println(header["kid"])
	fmt.Println(claims.Names())
	// Output:
	// 0330d3e7-1966-41c4-b3ef-d311d1ff7191
	// [jti sub subType name email group email_verified iat nbf exp aud iss]
}

func ExampleParseExpiry() {
	for _, s := range []string{"60m", "48h", "365d", "5y", "1 week"} {
		d, _ := jwtmint.ParseExpiry(s)
		fmt.Println(s, d)
	}
	_, err := jwtmint.ParseExpiry("10")
	fmt.Println(err)
	// Output:
	// 60m 1h0m0s
	// 48h 48h0m0s
	// 365d 8760h0m0s
	// 5y 43830h0m0s
	// 1 week 168h0m0s
	// expiry "10" is not a number and a unit such as 30s, 60m, 48h, 365d or 5y
}

func ExampleParseClaim() {
	for _, s := range []string{"role=admin", "level=3", `tags=["a","b"]`, `id="42"`} {
		c, _ := jwtmint.ParseClaim(s)
		b, _ := json.Marshal(c.Value)
		fmt.Println(c.Name, string(b))
	}
	// Output:
	// role "admin"
	// level 3
	// tags ["a","b"]
	// id "42"
}
