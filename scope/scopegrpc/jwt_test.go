package scopegrpc_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

var jwtKey = []byte("the test secret, 32 bytes long!!")

func newJWT(t testing.TB) *scopegrpc.JWTStrategy {
	t.Helper()
	s, err := scopegrpc.NewJWTStrategy(scopegrpc.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{jwtKey}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signJWT(t testing.TB, key []byte, tenant string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"tenant_id": tenant, "sub": "user-7", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
