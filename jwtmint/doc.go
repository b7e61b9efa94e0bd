// Package jwtmint makes the JSON Web Tokens that Qlik Sense accepts, and the
// keys to sign them: what the qs-jwt tool does, as a library.
//
// Two builders make the claims:
//
//   - [QSEoW] for Qlik Sense Enterprise on Windows (a JWT virtual proxy):
//     userId, userDirectory, name, email, group, iat, exp and aud, signed
//     without a "kid" header.
//   - [Cloud] for Qlik Cloud's /login/jwt-session: jti, sub, subType, name,
//     email, group, email_verified, iat, nbf, exp, aud
//     (qlik.api/login/jwt-session) and iss, signed with a "kid" header.
//
// A [Signer] signs claims with RS256/384/512, PS256/384/512, ES256/384/512
// or EdDSA, and refuses a key whose type does not fit the algorithm.
// [ParsePrivateKey] reads PKCS#8, PKCS#1 and SEC1 PEM keys; [NewKeyPair]
// makes a key and a self-signed certificate, and [KeyPair.WriteFiles]
// stores them as publickey.pem, privatekey.pem (mode 0600) and publickey.cer,
// the names qs-jwt uses. [Decode] shows what a token says, without checking
// it; checking is the job of package jwtverify.
//
// Claims keep the order they were set in, so a token's payload reads like
// the ones qs-jwt makes.
package jwtmint
