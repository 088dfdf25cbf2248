#include "textflag.h"

// Constants, 32 copies of a byte each.
DATA cT<>+0(SB)/8, $0x7474747474747474
DATA cT<>+8(SB)/8, $0x7474747474747474
DATA cT<>+16(SB)/8, $0x7474747474747474
DATA cT<>+24(SB)/8, $0x7474747474747474
GLOBL cT<>(SB), RODATA|NOPTR, $32
DATA cM<>+0(SB)/8, $0x6d6d6d6d6d6d6d6d
DATA cM<>+8(SB)/8, $0x6d6d6d6d6d6d6d6d
DATA cM<>+16(SB)/8, $0x6d6d6d6d6d6d6d6d
DATA cM<>+24(SB)/8, $0x6d6d6d6d6d6d6d6d
GLOBL cM<>(SB), RODATA|NOPTR, $32
DATA c5<>+0(SB)/8, $0x0505050505050505
DATA c5<>+8(SB)/8, $0x0505050505050505
DATA c5<>+16(SB)/8, $0x0505050505050505
DATA c5<>+24(SB)/8, $0x0505050505050505
GLOBL c5<>(SB), RODATA|NOPTR, $32
DATA c0<>+0(SB)/8, $0x3030303030303030
DATA c0<>+8(SB)/8, $0x3030303030303030
DATA c0<>+16(SB)/8, $0x3030303030303030
DATA c0<>+24(SB)/8, $0x3030303030303030
GLOBL c0<>(SB), RODATA|NOPTR, $32
DATA c9<>+0(SB)/8, $0x0909090909090909
DATA c9<>+8(SB)/8, $0x0909090909090909
DATA c9<>+16(SB)/8, $0x0909090909090909
DATA c9<>+24(SB)/8, $0x0909090909090909
GLOBL c9<>(SB), RODATA|NOPTR, $32
DATA cU<>+0(SB)/8, $0x7575757575757575
DATA cU<>+8(SB)/8, $0x7575757575757575
DATA cU<>+16(SB)/8, $0x7575757575757575
DATA cU<>+24(SB)/8, $0x7575757575757575
GLOBL cU<>(SB), RODATA|NOPTR, $32
DATA cSl<>+0(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA cSl<>+8(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA cSl<>+16(SB)/8, $0x2f2f2f2f2f2f2f2f
DATA cSl<>+24(SB)/8, $0x2f2f2f2f2f2f2f2f
GLOBL cSl<>(SB), RODATA|NOPTR, $32
DATA cHash<>+0(SB)/8, $0x2323232323232323
DATA cHash<>+8(SB)/8, $0x2323232323232323
DATA cHash<>+16(SB)/8, $0x2323232323232323
DATA cHash<>+24(SB)/8, $0x2323232323232323
GLOBL cHash<>(SB), RODATA|NOPTR, $32
DATA cPlus<>+0(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA cPlus<>+8(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA cPlus<>+16(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA cPlus<>+24(SB)/8, $0x2b2b2b2b2b2b2b2b
GLOBL cPlus<>(SB), RODATA|NOPTR, $32
DATA c14<>+0(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA c14<>+8(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA c14<>+16(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA c14<>+24(SB)/8, $0x0e0e0e0e0e0e0e0e
GLOBL c14<>(SB), RODATA|NOPTR, $32
DATA cComma<>+0(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA cComma<>+8(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA cComma<>+16(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA cComma<>+24(SB)/8, $0x2c2c2c2c2c2c2c2c
GLOBL cComma<>(SB), RODATA|NOPTR, $32
DATA cDot<>+0(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA cDot<>+8(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA cDot<>+16(SB)/8, $0x2e2e2e2e2e2e2e2e
DATA cDot<>+24(SB)/8, $0x2e2e2e2e2e2e2e2e
GLOBL cDot<>(SB), RODATA|NOPTR, $32
DATA cUnd<>+0(SB)/8, $0x5f5f5f5f5f5f5f5f
DATA cUnd<>+8(SB)/8, $0x5f5f5f5f5f5f5f5f
DATA cUnd<>+16(SB)/8, $0x5f5f5f5f5f5f5f5f
DATA cUnd<>+24(SB)/8, $0x5f5f5f5f5f5f5f5f
GLOBL cUnd<>(SB), RODATA|NOPTR, $32

DATA cD<>+0(SB)/8, $0x6464646464646464
DATA cD<>+8(SB)/8, $0x6464646464646464
DATA cD<>+16(SB)/8, $0x6464646464646464
DATA cD<>+24(SB)/8, $0x6464646464646464
GLOBL cD<>(SB), RODATA|NOPTR, $32
DATA c6<>+0(SB)/8, $0x3636363636363636
DATA c6<>+8(SB)/8, $0x3636363636363636
DATA c6<>+16(SB)/8, $0x3636363636363636
DATA c6<>+24(SB)/8, $0x3636363636363636
GLOBL c6<>(SB), RODATA|NOPTR, $32
DATA c1<>+0(SB)/8, $0x3131313131313131
DATA c1<>+8(SB)/8, $0x3131313131313131
DATA c1<>+16(SB)/8, $0x3131313131313131
DATA c1<>+24(SB)/8, $0x3131313131313131
GLOBL c1<>(SB), RODATA|NOPTR, $32
DATA c9ch<>+0(SB)/8, $0x3939393939393939
DATA c9ch<>+8(SB)/8, $0x3939393939393939
DATA c9ch<>+16(SB)/8, $0x3939393939393939
DATA c9ch<>+24(SB)/8, $0x3939393939393939
GLOBL c9ch<>(SB), RODATA|NOPTR, $32

// func markBlocksAVX2(b []byte, from, n int, x, pct, bsl, amp, b64, anc []uint64)
//
// Marks the n 64-byte blocks of b from block from on (marks.go says what
// each mark means); the caller guarantees 3 bytes before the first block
// and 2 after the last, which the tests of the neighbours read. Bit j of
// a block's word is byte 64k+j; each 32-byte half's marks are stored as
// the uint32 at its place in the little-endian word.
TEXT ·markBlocksAVX2(SB), NOSPLIT, $0-184
	MOVQ b_base+0(FP), SI
	MOVQ from+24(FP), AX
	MOVQ n+32(FP), CX
	MOVQ AX, DX
	SHLQ $6, DX
	ADDQ DX, SI
	SHLQ $3, AX
	MOVQ x_base+40(FP), R8
	ADDQ AX, R8
	MOVQ pct_base+64(FP), R9
	ADDQ AX, R9
	MOVQ bsl_base+88(FP), R10
	ADDQ AX, R10
	MOVQ amp_base+112(FP), R11
	ADDQ AX, R11
	MOVQ b64_base+136(FP), R12
	ADDQ AX, R12
	MOVQ anc_base+160(FP), R13
	ADDQ AX, R13

#define VBCAST(V, X, Y) MOVQ $V, AX; MOVQ AX, X; VPBROADCASTB X, Y

	VBCAST(0x61, X0, Y0) // 'a'
	VBCAST(0x20, X1, Y1) // case bit
	VBCAST(0x19, X2, Y2) // 'z'-'a'
	VPXOR Y3, Y3, Y3     // zero
	VBCAST(0x25, X4, Y4) // '%'
	VBCAST(0x5c, X5, Y5) // '\\'
	VBCAST(0x26, X6, Y6) // '&'
	VBCAST(0x78, X7, Y7) // 'x'

// Y13: the 32 bytes, Y11: the bytes one on, Y12: where the byte two on
// is 'a' (an escape right before a key prefix: "\natmx_…"), then free
// for the byte-list anchors ("6d", "6D", "109"). Each kind of mark is a
// macro of its own (the escapes' need Y11 and Y12, the anchors' clobber
// Y12 and come last), so that a block without escape introducers skips
// theirs.
#define LOADS(OFF) \
	VMOVDQU  OFF(SI), Y13; \
	VMOVDQU  OFF+1(SI), Y11; \
	VPCMPEQB OFF+2(SI), Y0, Y12

#define XMARK(OFF, WOFF) \
	VPCMPEQB Y7, Y13, Y14; \
	VMOVDQU  OFF-1(SI), Y15; \
	VPCMPEQB cM<>(SB), Y15, Y15; \
	VPAND    Y15, Y14, Y14; \
	VMOVDQU  OFF-2(SI), Y15; \
	VPCMPEQB cT<>(SB), Y15, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPCMPEQB OFF-3(SI), Y0, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R8)

#define ESCMARKS(OFF, WOFF) \
	VPOR     Y1, Y11, Y14; \
	VPSUBB   Y0, Y14, Y14; \
	VPSUBUSB c5<>(SB), Y14, Y14; \
	VPCMPEQB Y3, Y14, Y14; \
	VPSUBB   c0<>(SB), Y11, Y15; \
	VPSUBUSB c9<>(SB), Y15, Y15; \
	VPCMPEQB Y3, Y15, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPOR     Y12, Y14, Y14; \
	VPCMPEQB Y4, Y13, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R9); \
	\
	VPCMPEQB Y7, Y11, Y14; \
	VPCMPEQB cU<>(SB), Y11, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPCMPEQB cSl<>(SB), Y11, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPCMPEQB Y5, Y11, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPCMPEQB c0<>(SB), Y11, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPOR     Y12, Y14, Y14; \
	VPCMPEQB Y5, Y13, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R10); \
	\
	VPOR     Y1, Y11, Y14; \
	VPSUBB   Y0, Y14, Y14; \
	VPSUBUSB Y2, Y14, Y14; \
	VPCMPEQB Y3, Y14, Y14; \
	VMOVDQU  OFF+2(SI), Y15; \
	VPOR     Y1, Y15, Y15; \
	VPSUBB   Y0, Y15, Y15; \
	VPSUBUSB Y2, Y15, Y15; \
	VPCMPEQB Y3, Y15, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPCMPEQB cHash<>(SB), Y11, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPOR     Y12, Y14, Y14; \
	VPCMPEQB Y6, Y13, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R11)

#define B64MARK(WOFF) \
	VPOR     Y1, Y13, Y14; \
	VPSUBB   Y0, Y14, Y14; \
	VPSUBUSB Y2, Y14, Y14; \
	VPCMPEQB Y3, Y14, Y14; \
	VPSUBB   cPlus<>(SB), Y13, Y15; \
	VPSUBUSB c14<>(SB), Y15, Y15; \
	VPCMPEQB Y3, Y15, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPCMPEQB cComma<>(SB), Y13, Y15; \
	VPANDN   Y14, Y15, Y14; \
	VPCMPEQB cDot<>(SB), Y13, Y15; \
	VPANDN   Y14, Y15, Y14; \
	VPCMPEQB cUnd<>(SB), Y13, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R12)

#define ANCMARK(OFF, WOFF) \
	VPCMPEQB c6<>(SB), Y13, Y14; \
	VPOR     Y1, Y11, Y15; \
	VPCMPEQB cD<>(SB), Y15, Y15; \
	VPAND    Y15, Y14, Y14; \
	VPCMPEQB c1<>(SB), Y13, Y15; \
	VPCMPEQB c0<>(SB), Y11, Y12; \
	VPAND    Y12, Y15, Y15; \
	VMOVDQU  c9ch<>(SB), Y12; \
	VPCMPEQB OFF+2(SI), Y12, Y12; \
	VPAND    Y12, Y15, Y15; \
	VPOR     Y15, Y14, Y14; \
	VPMOVMSKB Y14, AX; \
	MOVL     AX, WOFF(R13)

#define HALF(OFF, WOFF) \
	LOADS(OFF); \
	XMARK(OFF, WOFF); \
	ESCMARKS(OFF, WOFF); \
	B64MARK(WOFF); \
	ANCMARK(OFF, WOFF)

// A half of a block without escape introducers: no escape marks.
#define QUIET(OFF, WOFF) \
	VMOVDQU  OFF(SI), Y13; \
	VMOVDQU  OFF+1(SI), Y11; \
	XMARK(OFF, WOFF); \
	B64MARK(WOFF); \
	ANCMARK(OFF, WOFF)

loop:
	TESTQ CX, CX
	JZ    done
	// A block of NUL bytes (sparse binaries are full of them) has no
	// marks: store zeros without testing it.
	VMOVDQU 0(SI), Y13
	VMOVDQU 32(SI), Y8
	VPOR    Y8, Y13, Y9
	VPTEST  Y9, Y9
	JNZ     marked
	MOVQ    $0, (R8)
	MOVQ    $0, (R9)
	MOVQ    $0, (R10)
	MOVQ    $0, (R11)
	MOVQ    $0, (R12)
	MOVQ    $0, (R13)
	JMP     next

marked:
	// Escape introducers ('%', '\\', '&') are in about one block in
	// nine of bundles: the others skip two thirds of the work.
	VPCMPEQB Y4, Y13, Y9
	VPCMPEQB Y5, Y13, Y10
	VPOR     Y10, Y9, Y9
	VPCMPEQB Y6, Y13, Y10
	VPOR     Y10, Y9, Y9
	VPCMPEQB Y4, Y8, Y10
	VPOR     Y10, Y9, Y9
	VPCMPEQB Y5, Y8, Y10
	VPOR     Y10, Y9, Y9
	VPCMPEQB Y6, Y8, Y10
	VPOR     Y10, Y9, Y9
	VPTEST   Y9, Y9
	JNZ      escaped
	QUIET(0, 0)
	QUIET(32, 4)
	MOVQ     $0, (R9)
	MOVQ     $0, (R10)
	MOVQ     $0, (R11)
	JMP      next

escaped:
	HALF(0, 0)
	HALF(32, 4)

next:
	ADDQ  $64, SI
	ADDQ  $8, R8
	ADDQ  $8, R9
	ADDQ  $8, R10
	ADDQ  $8, R11
	ADDQ  $8, R12
	ADDQ  $8, R13
	DECQ  CX
	JMP   loop

done:
	VZEROUPPER
	RET

// func prefetch(b []byte, i int)
//
// Asks for the cache line holding b[i] (0 <= i < len(b)).
TEXT ·prefetch(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), AX
	ADDQ i+24(FP), AX
	PREFETCHT0 (AX)
	RET
