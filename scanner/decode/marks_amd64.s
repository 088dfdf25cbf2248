#include "textflag.h"

// func markBlocksSSE2(b []byte, x, pct, bsl, amp, b64 []uint64)
//
// For each full 64-byte block k of b, bit j of x[k] (pct[k], bsl[k],
// amp[k]) is set when b[64k+j] is 'x' ('%', '\\', '&'), and bit j of
// b64[k] when it is a base64 character of either alphabet. SSE2 only,
// which every amd64 processor has. Each 16-byte chunk's marks are stored
// as the uint16 at its place in the little-endian word.
TEXT ·markBlocksSSE2(SB), NOSPLIT, $0-144
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ x_base+24(FP), R8
	MOVQ pct_base+48(FP), R9
	MOVQ bsl_base+72(FP), R10
	MOVQ amp_base+96(FP), R11
	MOVQ b64_base+120(FP), R12
	SHRQ $6, CX

#define BCAST(V, X) MOVQ $V, AX; MOVQ AX, X; PUNPCKLQDQ X, X

	BCAST(0x7878787878787878, X0)  // 'x'
	BCAST(0x2525252525252525, X1)  // '%'
	BCAST(0x5c5c5c5c5c5c5c5c, X2)  // '\\'
	BCAST(0x2626262626262626, X3)  // '&'
	BCAST(0x2020202020202020, X4)  // case bit
	BCAST(0x6161616161616161, X5)  // 'a'
	BCAST(0x1919191919191919, X6)  // 'z'-'a'
	PXOR X7, X7                    // zero
	BCAST(0x2b2b2b2b2b2b2b2b, X8)  // '+'
	BCAST(0x0e0e0e0e0e0e0e0e, X9)  // '9'-'+'
	BCAST(0x2c2c2c2c2c2c2c2c, X10) // ','
	BCAST(0x2e2e2e2e2e2e2e2e, X11) // '.'
	BCAST(0x5f5f5f5f5f5f5f5f, X12) // '_'

// EQ stores the marks of the bytes of X13 equal to those of C.
#define EQ(C, OUT, OFF) MOVO X13, X14; PCMPEQB C, X14; PMOVMSKB X14, AX; MOVW AX, OFF(OUT)

// B64 stores the marks of base64 characters: (c|0x20)-'a' <= 25 (letters),
// c-'+' <= 14 except ',' and '.' ("+,-./0-9"), and '_'. A range test is a
// wrapping subtraction, a saturating one and a compare with zero.
#define B64(OFF) \
	MOVO     X13, X14; \
	POR      X4, X14; \
	PSUBB    X5, X14; \
	PSUBUSB  X6, X14; \
	PCMPEQB  X7, X14; \
	MOVO     X13, X15; \
	PSUBB    X8, X15; \
	PSUBUSB  X9, X15; \
	PCMPEQB  X7, X15; \
	POR      X15, X14; \
	MOVO     X13, X15; \
	PCMPEQB  X10, X15; \
	PANDN    X14, X15; \
	MOVO     X13, X14; \
	PCMPEQB  X11, X14; \
	PANDN    X15, X14; \
	MOVO     X13, X15; \
	PCMPEQB  X12, X15; \
	POR      X15, X14; \
	PMOVMSKB X14, AX; \
	MOVW     AX, OFF(R12)

#define CHUNK(OFF, WOFF) \
	MOVOU OFF(SI), X13; \
	EQ(X0, R8, WOFF); \
	EQ(X1, R9, WOFF); \
	EQ(X2, R10, WOFF); \
	EQ(X3, R11, WOFF); \
	B64(WOFF)

loop:
	TESTQ CX, CX
	JZ    done
	CHUNK(0, 0)
	CHUNK(16, 2)
	CHUNK(32, 4)
	CHUNK(48, 6)
	ADDQ  $64, SI
	ADDQ  $8, R8
	ADDQ  $8, R9
	ADDQ  $8, R10
	ADDQ  $8, R11
	ADDQ  $8, R12
	DECQ  CX
	JMP   loop

done:
	RET

// func markBlocksAVX2(b []byte, x, pct, bsl, amp, b64 []uint64)
//
// markBlocks with AVX2: 32 bytes a step, no register copies.
TEXT ·markBlocksAVX2(SB), NOSPLIT, $0-144
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ x_base+24(FP), R8
	MOVQ pct_base+48(FP), R9
	MOVQ bsl_base+72(FP), R10
	MOVQ amp_base+96(FP), R11
	MOVQ b64_base+120(FP), R12
	SHRQ $6, CX

#define VBCAST(V, X, Y) MOVQ $V, AX; MOVQ AX, X; VPBROADCASTB X, Y

	VBCAST(0x78, X0, Y0)   // 'x'
	VBCAST(0x25, X1, Y1)   // '%'
	VBCAST(0x5c, X2, Y2)   // '\\'
	VBCAST(0x26, X3, Y3)   // '&'
	VBCAST(0x20, X4, Y4)   // case bit
	VBCAST(0x61, X5, Y5)   // 'a'
	VBCAST(0x19, X6, Y6)   // 'z'-'a'
	VPXOR Y7, Y7, Y7       // zero
	VBCAST(0x2b, X8, Y8)   // '+'
	VBCAST(0x0e, X9, Y9)   // '9'-'+'
	VBCAST(0x2c, X10, Y10) // ','
	VBCAST(0x2e, X11, Y11) // '.'
	VBCAST(0x5f, X12, Y12) // '_'

#define VEQ(C, OUT, OFF) VPCMPEQB C, Y13, Y14; VPMOVMSKB Y14, AX; MOVL AX, OFF(OUT)

#define VB64(OFF) \
	VPOR      Y4, Y13, Y14; \
	VPSUBB    Y5, Y14, Y14; \
	VPSUBUSB  Y6, Y14, Y14; \
	VPCMPEQB  Y7, Y14, Y14; \
	VPSUBB    Y8, Y13, Y15; \
	VPSUBUSB  Y9, Y15, Y15; \
	VPCMPEQB  Y7, Y15, Y15; \
	VPOR      Y15, Y14, Y14; \
	VPCMPEQB  Y10, Y13, Y15; \
	VPANDN    Y14, Y15, Y14; \
	VPCMPEQB  Y11, Y13, Y15; \
	VPANDN    Y14, Y15, Y14; \
	VPCMPEQB  Y12, Y13, Y15; \
	VPOR      Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL      AX, OFF(R12)

#define VCHUNK(OFF, WOFF) \
	VMOVDQU OFF(SI), Y13; \
	VEQ(Y0, R8, WOFF); \
	VEQ(Y1, R9, WOFF); \
	VEQ(Y2, R10, WOFF); \
	VEQ(Y3, R11, WOFF); \
	VB64(WOFF)

vloop:
	TESTQ CX, CX
	JZ    vdone
	VCHUNK(0, 0)
	VCHUNK(32, 4)
	ADDQ  $64, SI
	ADDQ  $8, R8
	ADDQ  $8, R9
	ADDQ  $8, R10
	ADDQ  $8, R11
	ADDQ  $8, R12
	DECQ  CX
	JMP   vloop

vdone:
	VZEROUPPER
	RET
