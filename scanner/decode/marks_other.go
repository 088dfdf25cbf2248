//go:build !amd64

package decode

func markBlocks(b []byte, x, pct, bsl, amp, b64 []uint64) {
	for k := 0; k < len(b)/64; k++ {
		markTail(b[64*k:64*k+64], &x[k], &pct[k], &bsl[k], &amp[k], &b64[k])
	}
}
