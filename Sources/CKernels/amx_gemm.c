// bf16 matrix products on Intel AMX tiles (Sapphire Rapids and later): see include/CKernels.h.
//
// Data flow of one call, C[M, N] (+)= A[M, K] · B[K, N]:
//   1. A is rounded to bf16 (nearest even, the same rounding as tk_bf16_gemm) into rows of Kpad
//      (K rounded up to 32, zero filled), Mpad rows (M rounded up to 32).
//   2. B is rounded to bf16 and packed in AMX's pair-interleaved ("VNNI") layout: panels of 16
//      output columns, and within a panel one 64-byte row per pair of K, holding for each of the
//      16 columns the uint32 (B[2p][n] low half, B[2p+1][n] high half). A 16-row slice of a panel
//      is exactly one B tile (16 pairs = 32 K values × 16 columns). B comes from W as stored:
//      W[n, K] rows for y = x·Wᵀ (transposedW), W[K, n] rows for dx = dy·W.
//      NF4 weights are decoded straight into this layout (tk_amx_pack_b_nf4), never as an fp32
//      matrix.
//   3. Blocks of 32 × 32 outputs keep four fp32 accumulator tiles; each step over K loads two A
//      tiles and two B tiles and issues four tdpbf16ps.
// Every output element sums its K products in the same order (tiles of 32 along K, in order,
// onto the initial C value when beta is 1) whatever its row or column, so a result does not
// depend on how a matrix is split into row tiles or across ranks by output columns.
//
// Tile state is a per-process permission on Linux (arch_prctl ARCH_REQ_XCOMP_PERM); where the
// kernel refuses it, or the CPU lacks AMX, tk_amx_supported() is 0 and callers use another path.
// TESSERA_AMX=0 turns the path off (to measure or test the AVX512-BF16 one on an AMX machine).

#include "CKernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define TK_HAVE_AMX 1
#endif

// bf16 of a finite float as vcvtneps2bf16 rounds it: nearest even, and a denormal input becomes a
// zero of its sign (the instruction treats denormals as zero; tdpbf16ps does too, so this changes
// no product). The vector packers use the instruction, the scalar tails this.
static inline uint16_t bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7F800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

size_t tk_amx_b_panel_count(size_t n, size_t k) { return round_up(n, 32) * round_up(k, 32) / 2; }


#if defined(TK_HAVE_AMX)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// 32 floats (lo: elements 0..15, hi: 16..31) as 16 uint32 pairs (element 2i low, 2i+1 high).
VNNI static inline __m512i pairs_of(__m512 lo, __m512 hi) { return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); }

// uint32 lanes (lo[i] low half, hi[i] high half) from two vectors of 16 floats.
VNNI static inline __m512i interleave_bf16(__m512 lo, __m512 hi) {
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

// Transposes 16 vectors of 16 uint32 (r[i] lane j -> out row j lane i) and stores row j at out + j·16.
VNNI static void store_transposed16(__m512i r[16], uint32_t *out) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // u[4q + s] holds, in 128-bit lane L, column 4L + s of rows 4q ..< 4q + 4.
    for (int h = 0; h < 2; h++)
        for (int q = 0; q < 4; q++) {
            t[8 * h + q] = _mm512_shuffle_i32x4(u[8 * h + q], u[8 * h + q + 4], 0x88);
            t[8 * h + 4 + q] = _mm512_shuffle_i32x4(u[8 * h + q], u[8 * h + q + 4], 0xDD);
        }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(t[4 + q], t[12 + q], 0x88);
        r[8 + q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0xDD);
        r[12 + q] = _mm512_shuffle_i32x4(t[4 + q], t[12 + q], 0xDD);
    }
    for (int j = 0; j < 16; j++) _mm512_storeu_si512((void *)(out + j * 16), r[j]);
}
#endif

// ---- B packing ---------------------------------------------------------------------------
// Element (p, n) of the packed B: panel n / 16, pair row p, column n % 16.
static inline size_t vnni_index(size_t p, size_t n, size_t kp) { return ((n >> 4) * kp + p) * 16 + (n & 15); }

// Scalar packing of the pairs p >= pBegin of output columns [jBegin, jEnd) (the tails the vector
// loops leave, or everything on a CPU without AVX512-BF16). VALUE(row, col) reads W.
#define PACK_SCALAR(VALUE)                                                                            \
    for (size_t j = jBegin; j < jEnd; j++)                                                            \
        for (size_t p = pBegin; 2 * p < k; p++) {                                                     \
            uint32_t hi = 2 * p + 1 < k ? bf16_round(transposedW ? VALUE(j, 2 * p + 1) : VALUE(2 * p + 1, j)) : 0; \
            bp[vnni_index(p, j, kp)] = bf16_round(transposedW ? VALUE(j, 2 * p) : VALUE(2 * p, j)) | (hi << 16); \
        }

static void pack_f32_scalar(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp,
                            size_t jBegin, size_t jEnd, size_t pBegin) {
    size_t kp = round_up(k, 32) / 2;
    (void)n;
#define W_F32(r, c) w[(r) * ldw + (c)]
    PACK_SCALAR(W_F32)
#undef W_F32
}

#if defined(TK_HAVE_AMX)
VNNI static void pack_f32_vector(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp,
                                 size_t jb, size_t je) {
    size_t kp = round_up(k, 32) / 2, n16 = jb + (je - jb) / 16 * 16;
    if (transposedW) {   // 16 W rows × 32 K at a time, transposed into 16 pair rows
        size_t k32 = k / 32 * 32;
        for (size_t j0 = jb; j0 < n16; j0 += 16)
            for (size_t k0 = 0; k0 < k32; k0 += 32) {
                __m512i r[16];
                for (int jj = 0; jj < 16; jj++) {
                    const float *row = w + (j0 + jj) * ldw + k0;
                    r[jj] = pairs_of(_mm512_loadu_ps(row), _mm512_loadu_ps(row + 16));
                }
                store_transposed16(r, bp + vnni_index(k0 / 2, j0, kp));
            }
        pack_f32_scalar(n, k, w, ldw, transposedW, bp, jb, n16, k32 / 2);
    } else {             // two W rows × 16 columns give one pair row of a panel
        size_t k2 = k / 2 * 2;
        for (size_t p = 0; 2 * p < k2; p++)
            for (size_t j0 = jb; j0 < n16; j0 += 16) {
                const float *lo = w + 2 * p * ldw + j0;
                _mm512_storeu_si512((void *)(bp + vnni_index(p, j0, kp)),
                                    interleave_bf16(_mm512_loadu_ps(lo), _mm512_loadu_ps(lo + ldw)));
            }
        pack_f32_scalar(n, k, w, ldw, transposedW, bp, jb, n16, k2 / 2);
    }
    pack_f32_scalar(n, k, w, ldw, transposedW, bp, n16, je, 0);
}
#endif

// Zeroes the panels of column pairs [pairBegin, pairEnd) (their padding stays zero) and returns
// the columns [jb, je) of n they hold.
static void clear_pairs(size_t n, size_t k, uint32_t *bp, size_t pairBegin, size_t pairEnd, size_t *jb, size_t *je) {
    size_t panel = round_up(k, 32) / 2 * 16;
    memset(bp + 2 * pairBegin * panel, 0, 2 * (pairEnd - pairBegin) * panel * sizeof(uint32_t));
    *jb = pairBegin * 32 < n ? pairBegin * 32 : n;
    *je = pairEnd * 32 < n ? pairEnd * 32 : n;
}

void tk_amx_pack_b_f32_pairs(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp,
                             size_t pairBegin, size_t pairEnd) {
    size_t jb, je;
    clear_pairs(n, k, bp, pairBegin, pairEnd, &jb, &je);
#if defined(TK_HAVE_AMX)
    if (__builtin_cpu_supports("avx512bf16")) { pack_f32_vector(n, k, w, ldw, transposedW, bp, jb, je); return; }
#endif
    pack_f32_scalar(n, k, w, ldw, transposedW, bp, jb, je, 0);
}

void tk_amx_pack_b_f32(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp) {
    tk_amx_pack_b_f32_pairs(n, k, w, ldw, transposedW, bp, 0, round_up(n, 32) / 32);
}

// NF4 element e of the packed weight (row-major with `columns` per row): the fp32 product
// code · scale of flattened index first + e, as tk_nf4_block computes it.
static inline float nf4_value(const unsigned char *packed, size_t first, const float *scales, const float *code,
                              size_t e) {
    size_t g = first + e;
    return code[(packed[g >> 1] >> ((g & 1) ? 0 : 4)) & 15] * scales[(g >> 6) - (first >> 6)];
}

static void pack_nf4_scalar(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                            const float *code, int transposedW, uint32_t *bp, size_t jBegin, size_t jEnd,
                            size_t pBegin) {
    size_t kp = round_up(k, 32) / 2, columns = transposedW ? k : n;
#define W_NF4(r, c) nf4_value(packed, first, scales, code, (r) * columns + (c))
    PACK_SCALAR(W_NF4)
#undef W_NF4
}

#if defined(TK_HAVE_AMX)
// Rows of a multiple of 64 values starting on a block: every 16 or 32 aligned values share a scale
// and whole bytes.
VNNI static void pack_nf4_vector(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                                 const float *code, int transposedW, uint32_t *bp, size_t jb, size_t je) {
    size_t kp = round_up(k, 32) / 2, n16 = jb + (je - jb) / 16 * 16;
    __m512 table = _mm512_loadu_ps(code);
    __m512i fifteen = _mm512_set1_epi32(15);
    if (transposedW) {   // row j: 32 values = 16 bytes = 16 pairs (high nibble, low nibble)
        for (size_t j0 = jb; j0 < n16; j0 += 16)
            for (size_t k0 = 0; k0 < k; k0 += 32) {
                __m512i r[16];
                for (int jj = 0; jj < 16; jj++) {
                    size_t e = (j0 + jj) * k + k0;
                    __m512 scale = _mm512_set1_ps(scales[(first + e) / 64 - first / 64]);
                    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(packed + (first + e) / 2)));
                    __m512 hi = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), table), scale);
                    __m512 lo = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_and_si512(b, fifteen), table), scale);
                    r[jj] = interleave_bf16(hi, lo);
                }
                store_transposed16(r, bp + vnni_index(k0 / 2, j0, kp));
            }
        pack_nf4_scalar(n, k, packed, first, scales, code, transposedW, bp, n16, je, 0);
    } else {             // rows 2p and 2p + 1, 16 columns each: 8 bytes per row
        __m512i byteOf = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
        __m512i shift = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
        size_t k2 = k / 2 * 2;
        for (size_t p = 0; 2 * p < k2; p++)
            for (size_t j0 = jb; j0 < n16; j0 += 16) {
                __m512 v[2];
                for (int h = 0; h < 2; h++) {
                    size_t g = first + (2 * p + h) * n + j0;
                    __m512i b = _mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(packed + g / 2)));
                    __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(byteOf, b), shift), fifteen);
                    v[h] = _mm512_mul_ps(_mm512_permutexvar_ps(idx, table), _mm512_set1_ps(scales[g / 64 - first / 64]));
                }
                _mm512_storeu_si512((void *)(bp + vnni_index(p, j0, kp)), interleave_bf16(v[0], v[1]));
            }
        pack_nf4_scalar(n, k, packed, first, scales, code, transposedW, bp, jb, n16, k2 / 2);
        pack_nf4_scalar(n, k, packed, first, scales, code, transposedW, bp, n16, je, 0);
    }
}
#endif

void tk_amx_pack_b_nf4_pairs(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                             const float *code, int transposedW, uint32_t *bp, size_t pairBegin, size_t pairEnd) {
    size_t jb, je;
    clear_pairs(n, k, bp, pairBegin, pairEnd, &jb, &je);
#if defined(TK_HAVE_AMX)
    size_t columns = transposedW ? k : n;
    if (__builtin_cpu_supports("avx512bf16") && columns % 64 == 0 && first % 64 == 0) {
        pack_nf4_vector(n, k, packed, first, scales, code, transposedW, bp, jb, je);
        return;
    }
#endif
    pack_nf4_scalar(n, k, packed, first, scales, code, transposedW, bp, jb, je, 0);
}

void tk_amx_pack_b_nf4(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                       const float *code, int transposedW, uint32_t *bp) {
    tk_amx_pack_b_nf4_pairs(n, k, packed, first, scales, code, transposedW, bp, 0, round_up(n, 32) / 32);
}

// ---- A packing ---------------------------------------------------------------------------

static _Thread_local uint16_t *a_buf;
static _Thread_local size_t a_cap;
static _Thread_local uint32_t *b_buf;
static _Thread_local size_t b_cap;

static void *grow(void **buf, size_t *cap, size_t bytes) {
    if (bytes > *cap) {
        free(*buf);
        *buf = aligned_alloc(64, round_up(bytes, 64));
        *cap = *buf ? bytes : 0;
    }
    return *buf;
}

#if defined(TK_HAVE_AMX)
// Rows of 32 values at a time; the masked tail reads zeros, which fill the row up to Kpad.
VNNI static void pack_a_vector(size_t m, size_t k, const float *a, size_t lda, uint16_t *ap) {
    size_t kpad = round_up(k, 32);
    for (size_t i = 0; i < m; i++) {
        const float *row = a + i * lda;
        uint16_t *out = ap + i * kpad;
        for (size_t k0 = 0; k0 < kpad; k0 += 32) {
            size_t left = k > k0 ? k - k0 : 0;
            __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            __mmask16 m1 = left >= 32 ? 0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
            _mm512_storeu_si512((void *)(out + k0),
                                pairs_of(_mm512_maskz_loadu_ps(m0, row + k0), _mm512_maskz_loadu_ps(m1, row + k0 + 16)));
        }
    }
}
#endif

static void pack_a(size_t m, size_t k, const float *a, size_t lda, uint16_t *ap) {
    size_t mp = round_up(m, 32), kpad = round_up(k, 32);
#if defined(TK_HAVE_AMX)
    if (__builtin_cpu_supports("avx512bf16")) {
        pack_a_vector(m, k, a, lda, ap);
    } else
#endif
    for (size_t i = 0; i < m; i++) {
        const float *row = a + i * lda;
        uint16_t *out = ap + i * kpad;
        for (size_t j = 0; j < k; j++) out[j] = bf16_round(row[j]);
        memset(out + k, 0, (kpad - k) * sizeof(uint16_t));
    }
    memset(ap + m * kpad, 0, (mp - m) * kpad * sizeof(uint16_t));
}

// ---- availability --------------------------------------------------------------------------

static int amx_state = -1;   // -1 not yet asked, 0 no, 1 yes

int tk_amx_supported(void) {
    int s = __atomic_load_n(&amx_state, __ATOMIC_RELAXED);
    if (s >= 0) return s;
    s = 0;
#if defined(TK_HAVE_AMX)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 22))   // AMX-TILE, AMX-BF16
        && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512bf16")) {
        const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
        s = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }
#endif
    __atomic_store_n(&amx_state, s, __ATOMIC_RELAXED);
    return s;
}

static int amx_env_off = -1;                 // TESSERA_AMX=0|off, read once
static _Thread_local int amx_thread = -1;     // tk_set_amx_enabled override (-1: none)

int tk_amx_available(void) {
    if (amx_thread == 0) return 0;
    int off = __atomic_load_n(&amx_env_off, __ATOMIC_RELAXED);
    if (off < 0) {
        const char *env = getenv("TESSERA_AMX");
        off = env && (strcmp(env, "0") == 0 || strcmp(env, "off") == 0);
        __atomic_store_n(&amx_env_off, off, __ATOMIC_RELAXED);
    }
    if (off && amx_thread != 1) return 0;
    return tk_kernel_path() == TK_PATH_AVX512 && tk_amx_supported();
}

int tk_set_amx_enabled(int enabled) {
    if (enabled > 0 && !tk_amx_supported()) return 0;
    amx_thread = enabled < 0 ? -1 : enabled > 0;
    return 1;
}

// ---- the tile loop -----------------------------------------------------------------------

#if defined(TK_HAVE_AMX)
#define AMX __attribute__((target("avx512f,avx512bw,amx-tile,amx-bf16")))

typedef struct {
    uint8_t palette, startRow, reserved[14];
    uint16_t bytesPerRow[16];
    uint8_t rows[16];
} TileConfig;

// Accumulator tile T (0..3) for outputs (m0, n0): C itself when the 16 × 16 block lies inside C,
// else a zero-padded copy in `edge`.
#define C_BLOCK_FULL(m0, n0) ((m0) + 16 <= m && (n0) + 16 <= n)
#define C_INIT(T, m0, n0)                                                                              \
    do {                                                                                             \
        if (C_BLOCK_FULL(m0, n0)) {                                                                  \
            if (beta != 0) _tile_loadd(T, c + (m0) * ldc + (n0), (int)(ldc * 4)); else _tile_zero(T);  \
        } else if (beta != 0 && (m0) < m && (n0) < n) {                                              \
            memset(edge, 0, sizeof edge);                                                            \
            for (size_t r = 0; r < 16 && (m0) + r < m; r++)                                           \
                for (size_t q = 0; q < 16 && (n0) + q < n; q++) edge[r][q] = c[((m0) + r) * ldc + (n0) + q]; \
            _tile_loadd(T, edge, 64);                                                                \
        } else {                                                                                     \
            _tile_zero(T);                                                                           \
        }                                                                                            \
    } while (0)
#define C_STORE(T, m0, n0)                                                                             \
    do {                                                                                             \
        if (C_BLOCK_FULL(m0, n0)) {                                                                  \
            _tile_stored(T, c + (m0) * ldc + (n0), (int)(ldc * 4));                                  \
        } else if ((m0) < m && (n0) < n) {                                                           \
            _tile_stored(T, edge, 64);                                                               \
            for (size_t r = 0; r < 16 && (m0) + r < m; r++)                                           \
                for (size_t q = 0; q < 16 && (n0) + q < n; q++) c[((m0) + r) * ldc + (n0) + q] = edge[r][q]; \
        }                                                                                            \
    } while (0)

AMX static void amx_tiles(size_t m, size_t n, size_t k, const uint16_t *ap, const uint32_t *bp, float *c,
                          size_t ldc, float beta, size_t pairBegin, size_t pairEnd) {
    size_t mp = round_up(m, 32), kpad = round_up(k, 32), kp = kpad / 2;
    TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) { config.rows[t] = 16; config.bytesPerRow[t] = 64; }
    _tile_loadconfig(&config);
    float edge[16][16] __attribute__((aligned(64)));
    // Rows of A in chunks of about 512 KB, so a chunk stays in L2 while every column pair passes
    // over it (A of a [1024, 1536] input is 3 MB): B is then read once per chunk.
    size_t chunk = (512u << 10) / (kpad * 2) / 32 * 32;
    if (chunk < 32) chunk = 32;
    for (size_t mc = 0; mc < mp; mc += chunk)
    for (size_t pair = pairBegin; pair < pairEnd; pair++) {
        size_t n0 = pair * 32;
        const uint32_t *b0 = bp + (2 * pair) * kp * 16, *b1 = b0 + kp * 16;
        for (size_t m0 = mc; m0 < mp && m0 < mc + chunk; m0 += 32) {
            C_INIT(0, m0, n0);
            C_INIT(1, m0, n0 + 16);
            C_INIT(2, m0 + 16, n0);
            C_INIT(3, m0 + 16, n0 + 16);
            const uint16_t *a0 = ap + m0 * kpad, *a1 = a0 + 16 * kpad;
            for (size_t k0 = 0; k0 < kpad; k0 += 32) {
                _tile_loadd(4, a0 + k0, (int)(kpad * 2));
                _tile_loadd(5, a1 + k0, (int)(kpad * 2));
                _tile_loadd(6, b0 + k0 / 2 * 16, 64);
                _tile_loadd(7, b1 + k0 / 2 * 16, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            C_STORE(0, m0, n0);
            C_STORE(1, m0, n0 + 16);
            C_STORE(2, m0 + 16, n0);
            C_STORE(3, m0 + 16, n0 + 16);
        }
    }
    _tile_release();   // the kernel need not save tile state for this thread any more
}
#endif

const uint16_t *tk_amx_pack_a(size_t m, size_t k, const float *a, size_t lda) {
    uint16_t *ap = grow((void **)&a_buf, &a_cap, round_up(m, 32) * round_up(k, 32) * sizeof(uint16_t));
    if (!ap) abort();   // out of memory is fatal
    pack_a(m, k, a, lda, ap);
    return ap;
}

void tk_amx_tiles(size_t m, size_t n, size_t k, const uint16_t *ap, const uint32_t *bp, float *c, size_t ldc,
                  float beta, size_t pairBegin, size_t pairEnd) {
#if defined(TK_HAVE_AMX)
    if (m == 0 || n == 0 || pairBegin >= pairEnd) return;
    if (!tk_amx_supported()) abort();   // callers check availability
    amx_tiles(m, n, k, ap, bp, c, ldc, beta, pairBegin, pairEnd);
#else
    (void)m; (void)n; (void)k; (void)ap; (void)bp; (void)c; (void)ldc; (void)beta; (void)pairBegin; (void)pairEnd;
    abort();
#endif
}

void tk_amx_gemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda, const uint32_t *bp, float *c,
                        size_t ldc, float beta) {
    if (m == 0 || n == 0) return;
    tk_amx_tiles(m, n, k, tk_amx_pack_a(m, k, a, lda), bp, c, ldc, beta, 0, round_up(n, 32) / 32);
}

void tk_amx_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, size_t ldw,
                 int transposedW, float *c, size_t ldc, float beta) {
    if (m == 0 || n == 0) return;
    uint32_t *bp = grow((void **)&b_buf, &b_cap, tk_amx_b_panel_count(n, k) * sizeof(uint32_t));
    if (!bp) abort();
    tk_amx_pack_b_f32(n, k, w, ldw, transposedW, bp);
    tk_amx_gemm_packed(m, n, k, a, lda, bp, c, ldc, beta);
}

uint32_t *tk_amx_b_scratch(size_t n, size_t k) {
    return grow((void **)&b_buf, &b_cap, tk_amx_b_panel_count(n, k) * sizeof(uint32_t));
}
