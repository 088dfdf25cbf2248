package patterns

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/big"
)

// Format constants, from key-format.md.
const (
	Prefix    = "atmx_"
	KeyLen    = 47 // atmx_ + env(3) + _ + body(32) + check(6)
	bodyStart = 9
	bodyLen   = 32
	checkLen  = 6
	checkAt   = bodyStart + bodyLen // 41
	// RedactedLen is the length of the redacted form without its ellipsis:
	// prefix, environment and the first four body characters.
	RedactedLen = bodyStart + 4
)

// Alphabet is base62 in the order the checksum uses: digits, upper, lower.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Environment is an Atomyx key environment, named as the Vault API names it.
type Environment string

const (
	Development Environment = "development"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Environments lists every environment in a stable order.
var Environments = []Environment{Development, Staging, Production}

// Code is the three-letter code a key carries for its environment.
func (e Environment) Code() string {
	switch e {
	case Development:
		return "dev"
	case Staging:
		return "stg"
	case Production:
		return "prd"
	}
	return ""
}

// ParseEnvironment accepts an environment's name or its code.
func ParseEnvironment(s string) (Environment, error) {
	switch s {
	case "development", "dev":
		return Development, nil
	case "staging", "stg":
		return Staging, nil
	case "production", "prd", "prod":
		return Production, nil
	}
	return "", fmt.Errorf("unknown environment %q (want development, staging or production)", s)
}

func envOfCode(b []byte) Environment {
	if len(b) != 3 {
		return ""
	}
	switch string(b) {
	case "dev":
		return Development
	case "stg":
		return Staging
	case "prd":
		return Production
	}
	return ""
}

// base62 digit values; 0xff marks a byte outside the alphabet.
var digit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = byte(i)
	}
	return t
}()

// IsBase62 reports whether c is in the base62 alphabet.
func IsBase62(c byte) bool { return digit[c] != 0xff }

// checksum writes the 6-digit base62 CRC-32 of prefix into dst.
func checksum(dst *[checkLen]byte, prefix []byte) {
	v := crc32.ChecksumIEEE(prefix)
	for i := checkLen - 1; i >= 0; i-- {
		dst[i] = Alphabet[v%62]
		v /= 62
	}
}

// Checksum returns the 6-character checksum of the first 41 bytes of a key
// (atmx_<env>_<body>).
func Checksum(prefix []byte) string {
	var c [checkLen]byte
	checksum(&c, prefix)
	return string(c[:])
}

// shapeOK reports whether k (exactly KeyLen bytes) has the key's shape:
// prefix, a known environment, and base62 body and checksum.
func shapeOK(k []byte) bool {
	if len(k) != KeyLen || string(k[:5]) != Prefix || k[8] != '_' || envOfCode(k[5:8]) == "" {
		return false
	}
	for _, c := range k[bodyStart:] {
		if digit[c] == 0xff {
			return false
		}
	}
	return true
}

func checksumOK(k []byte) bool {
	var c [checkLen]byte
	checksum(&c, k[:checkAt])
	return string(c[:]) == string(k[checkAt:])
}

// Valid reports whether k is exactly one whole key whose checksum holds.
func Valid(k []byte) bool { return shapeOK(k) && checksumOK(k) }

// EnvironmentOf returns the environment a key-shaped k names, or "".
func EnvironmentOf(k []byte) Environment {
	if len(k) < 8 {
		return ""
	}
	return envOfCode(k[5:8])
}

// Fingerprint is a key's identity everywhere outside memory:
// "sha256:" and the lower-case hex SHA-256 of its 47 bytes.
func Fingerprint(k []byte) string {
	sum := sha256.Sum256(k)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValidFingerprint reports whether s has the fingerprint's form.
func ValidFingerprint(s string) bool {
	if len(s) != 7+64 || s[:7] != "sha256:" {
		return false
	}
	for _, c := range []byte(s[7:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Redact returns the form of a key that may be shown: prefix, environment
// and the first four body characters, then an ellipsis ("atmx_prd_q7Lw…").
// It never returns more than RedactedLen bytes of k.
func Redact(k []byte) string {
	n := min(len(k), RedactedLen)
	return string(k[:n]) + "…"
}

// Generate returns a new random key for env, from crypto/rand. It is for the
// local Vault and for tests; the caller owns the only copy.
func Generate(env Environment) (string, error) {
	code := env.Code()
	if code == "" {
		return "", fmt.Errorf("unknown environment %q", env)
	}
	k := make([]byte, 0, KeyLen)
	k = append(k, Prefix...)
	k = append(k, code...)
	k = append(k, '_')
	max := big.NewInt(int64(len(Alphabet)))
	for range bodyLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate key: %w", err)
		}
		k = append(k, Alphabet[n.Int64()])
	}
	var c [checkLen]byte
	checksum(&c, k)
	k = append(k, c[:]...)
	return string(k), nil
}
