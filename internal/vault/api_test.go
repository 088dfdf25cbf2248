package vault_test

import (
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
)

func TestRevokeOldGrace(t *testing.T) {
	tests := []struct {
		in   vault.RevokeOld
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"immediately", 0, true}, {"15m", 15 * time.Minute, true}, {"24h", 24 * time.Hour, true},
		{"24h1s", 0, false}, {"0s", 0, false}, {"-1m", 0, false}, {"Immediately", 0, false}, {"15", 0, false},
	}
	for _, tt := range tests {
		got, err := tt.in.Grace()
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("RevokeOld(%q).Grace() = %v, %v", tt.in, got, err)
		}
	}
}
