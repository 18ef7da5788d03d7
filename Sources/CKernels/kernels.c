// See include/CKernels.h. Three paths chosen at run time: AVX-512 (16 lanes), AVX2 + FMA (8 lanes)
// and portable scalar C. They agree bit for bit, because each evaluates the same formula with the
// same roundings in the same order:
//
// - One exp: Cephes' degree-6 polynomial on r = x − n·ln2 (n rounded to nearest even), scaled by
//   2ⁿ; inputs below −87.336 (results below FLT_MIN) give 0, so no denormal ever reaches a
//   multiply. Every multiply-add of the reduction and the polynomial is fused (one rounding).
//   p·2ⁿ is one rounding of the exact product on every path: vscalefps (AVX-512), or
//   (p·2^⌊n/2⌋)·2^(n−⌊n/2⌋) (AVX2, scalar), whose first product is exact (p is in [0.7, 1.42]
//   and both powers are normal for n in [−126, 128]).
// - Element-wise kernels multiply and add exactly as written, unfused (no contraction: see
//   FP_CONTRACT below).
// - Reductions (the exp sums, the softmax dot, RMSNorm's sums of squares and of dy·w·x) use 16
//   lane accumulators: element i goes to lane i mod 16, in order, the lanes that use FMA on the
//   AVX-512 path use it on every path, and the 16 lanes are then added as a tree of halves:
//   l[j] + l[j+8], then [j] + [j+4], [j] + [j+2], [0] + [1]. AVX2 keeps two 8-lane registers,
//   the scalar path an array of 16. (An accumulator starts at +0 and can never become −0, so
//   the zero lanes of a masked tail change nothing.) The maximum is order-free; its zero is
//   returned as +0 whatever the sign of the zeros it met.
//
// The scalar path needs the same fused multiply-adds, and is compiled for the target's
// baseline, which on x86-64 has no FMA: there fmaf()/__builtin_fmaf are a libm call per
// element (and nearbyintf/ldexpf others). An unfused a·b + c would be fast but would differ
// from the AVX2/AVX-512 results. So the scalar kernels (scalar_kernels.h) are built twice on
// x86-64: *_scalar with fma_f32 below, an exact emulation in double precision (the product of
// two floats is exact in a double, and the sum is rounded to odd before the final rounding to
// float, which makes the two roundings one), for CPUs without FMA; and *_scalar_fma with the
// instruction (target attribute), used when the CPU has FMA. Where the baseline has FMA
// (aarch64, x86 built with -mfma) fma_f32 is the instruction. No path calls libm per element.

#include "CKernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#if defined(__GLIBC__)   // defined by the libc headers above
#include <malloc.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#include <cpuid.h>
#endif

// No contraction of a·b + c into an FMA anywhere in this file: which multiply-adds are fused is
// part of the formula. Clang (SwiftPM's C compiler) honours the standard pragma; GCC ignores it
// and by default (-ffp-contract=fast) fuses even _mm256_mul_ps/_mm256_add_ps pairs inside
// functions built for FMA, which would break the paths' agreement, hence its own pragma.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define EXP_LO (-87.33654f)
#define EXP_HI (88.72283f)
static const float LOG2E = 1.44269504088896341f;
static const float LN2_HI = 0.693359375f;
static const float LN2_LO = -2.12194440e-4f;
static const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
                   P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

// ---- scalar path -------------------------------------------------------------------------

#if defined(__FMA__) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
static inline float fma_f32(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#else
// a·b + c rounded once, without libm: a·b is exact in a double; s = a·b + c is rounded to
// double, its rounding error found with TwoSum, and an inexact s is replaced by its neighbour
// with an odd last bit on the side of the exact value (round to odd). Rounding a round-to-odd
// value of 53 bits to 24 bits equals rounding the exact value (Boldo & Melquiond), denormal
// float results included. Infinite and NaN sums are left as the double arithmetic gives them.
static inline float fma_f32(float a, float b, float c) {
    double p = (double)a * (double)b, cd = (double)c;
    double s = p + cd;
    double bv = s - p;
    double err = (p - (s - bv)) + (cd - bv);
    uint64_t u;
    memcpy(&u, &s, 8);
    // Branch-free (the branches would be mispredicted half the time): add ±1 to the bits of
    // an inexact, even, finite s.
    uint64_t fix = (uint64_t)((err != 0) & ((u & 1) == 0) & (fabs(s) <= 1.7976931348623157e308));
    uint64_t away = (uint64_t)((err > 0) == (s > 0));   // the exact sum is farther from 0 than s
    u += (0 - fix) & ((away << 1) - 1);   // fix ? (away ? +1 : −1) : 0
    memcpy(&s, &u, 8);
    return (float)s;
}
#endif

// Nearest integer, ties to even, for |v| < 2²² (the default rounding mode, as nearbyintf and
// vroundps/vrndscaleps with _MM_FROUND_TO_NEAREST_INT).
static inline float round_nearest(float v) {
    const float magic = 12582912.0f;   // 1.5·2²³
    return (v + magic) - magic;
}

static inline float pow2_f32(int e) {   // 2^e for e in [−126, 127]
    uint32_t u = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Tree of halves over 16 lane sums (see the top of the file).
static float tree16_f32(float *l) {
    for (int j = 0; j < 8; j++) l[j] = l[j] + l[j + 8];
    for (int j = 0; j < 4; j++) l[j] = l[j] + l[j + 4];
    l[0] = l[0] + l[2];
    l[1] = l[1] + l[3];
    return l[0] + l[1];
}

static double tree16_f64(double *l) {
    for (int j = 0; j < 8; j++) l[j] = l[j] + l[j + 8];
    for (int j = 0; j < 4; j++) l[j] = l[j] + l[j + 4];
    l[0] = l[0] + l[2];
    l[1] = l[1] + l[3];
    return l[0] + l[1];
}

// tanh GELU: 2·√(2/π), κ and 3κ, as float constants every path uses.
#define TK_GELU_2BETA 1.5957691216057308f
#define TK_GELU_KAPPA 0.044715f
#define TK_GELU_3KAPPA 0.134145f

#define SCALAR(name) name##_scalar
#define SCALAR_ATTR
#define FMA_F32 fma_f32
#include "scalar_kernels.h"
#undef SCALAR
#undef SCALAR_ATTR
#undef FMA_F32

#if defined(__x86_64__) && !defined(__FMA__)
// The same kernels with the FMA instruction, for CPUs that have it but not the AVX2 path (or
// that run the scalar path because TESSERA_KERNELS says so): bit-identical to the emulation,
// several times faster.
#define SCALAR(name) name##_scalar_fma
#define SCALAR_ATTR __attribute__((target("fma")))
#define FMA_F32 __builtin_fmaf
#include "scalar_kernels.h"
#undef SCALAR
#undef SCALAR_ATTR
#undef FMA_F32
#define HAVE_SCALAR_FMA 1
#endif

float tk_exp(float x) { return exp_f32_scalar(x); }

// ---- x86 vector paths --------------------------------------------------------------------

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma,f16c")))

// 8 float lanes to one sum: [j] + [j+4], [j] + [j+2], [0] + [1] (the end of the tree).
AVX2 static inline float hsum8(__m256 a) {
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

// 4 double lanes (the tree after its first two levels) to one sum: [j] + [j+2], [0] + [1].
AVX2 static inline double hsum4d(__m256d a) {
    __m128d b = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(b, _mm_unpackhi_pd(b, b)));
}

AVX2 static inline float hmax8(__m256 a) {
    __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_max_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_max_ss(c, _mm_shuffle_ps(c, c, 1)));
}

// ---- AVX-512 path ------------------------------------------------------------------------

AVX512 static inline __m512 exp512(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-LN2_HI), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-LN2_LO), r);
    __m512 p = _mm512_set1_ps(P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512 y = _mm512_scalef_ps(p, n);
    // Below the normal range → 0, above → inf, NaN passes through.
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LO), _CMP_LT_OQ), _mm512_setzero_ps());
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_HI), _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

AVX512 static inline __mmask16 tail_mask(size_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

// The 16 lanes' tree: [j] + [j+8] here, the rest in hsum8.
AVX512 static inline float hsum16(__m512 v) {
    return hsum8(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

AVX512 static float max_avx512(const float *x, size_t n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, x + i));
    }
    return hmax8(_mm256_max_ps(_mm512_castps512_ps256(m), _mm512_extractf32x8_ps(m, 1))) + 0.0f;
}

AVX512 static double exp_sum_avx512(float *out, const float *x, size_t n, float shift) {
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();   // lanes 0-7 and 8-15
    __m512 s = _mm512_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s));
        e = _mm512_maskz_mov_ps(k, e);
        if (out) _mm512_mask_storeu_ps(out + i, k, e);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    __m512d l8 = _mm512_add_pd(lo, hi);
    return hsum4d(_mm256_add_pd(_mm512_castpd512_pd256(l8), _mm512_extractf64x4_pd(l8, 1)));
}

AVX512 static void scale_avx512(float *x, size_t n, float s) {
    __m512 v = _mm512_set1_ps(s);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), v));
    }
}

AVX512 static float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 s = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s);
    }
    return hsum16(s);
}

AVX512 static float sum_exp_f32_avx512(float *x, size_t n, float shift) {
    __m512 acc = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    return hsum16(acc);
}

AVX512 static void swiglu_avx512(float *out, const float *gate, const float *up, size_t n) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
        __m512 y = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u);
        _mm512_mask_storeu_ps(out + i, k, y);
    }
}

AVX512 static inline __m512 gelu_z512(__m512 g) {
    __m512 g3 = _mm512_mul_ps(g, _mm512_mul_ps(g, g));
    return _mm512_mul_ps(_mm512_set1_ps(TK_GELU_2BETA), _mm512_add_ps(g, _mm512_mul_ps(_mm512_set1_ps(TK_GELU_KAPPA), g3)));
}

AVX512 static void geglu_avx512(float *out, const float *gate, const float *up, size_t n) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), gelu_z512(g)));
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u));
    }
}

AVX512 static void geglu_backward_avx512(float *dgate, float *dup, const float *dout, const float *gate,
                                         const float *up, size_t n) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
        __m512 dy = _mm512_maskz_loadu_ps(k, dout + i);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), gelu_z512(g)))));
        __m512 dz = _mm512_mul_ps(_mm512_set1_ps(TK_GELU_2BETA),
                                  _mm512_add_ps(one, _mm512_mul_ps(_mm512_set1_ps(TK_GELU_3KAPPA), _mm512_mul_ps(g, g))));
        __m512 d = _mm512_add_ps(s, _mm512_mul_ps(_mm512_mul_ps(g, _mm512_mul_ps(s, _mm512_sub_ps(one, s))), dz));
        _mm512_mask_storeu_ps(dgate + i, k, _mm512_mul_ps(_mm512_mul_ps(dy, u), d));
        _mm512_mask_storeu_ps(dup + i, k, _mm512_mul_ps(dy, _mm512_mul_ps(g, s)));
    }
}

AVX512 static void swiglu_backward_avx512(float *dgate, float *dup, const float *dout, const float *gate,
                                          const float *up, size_t n) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
        __m512 dy = _mm512_maskz_loadu_ps(k, dout + i);
        __m512 sig = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        // dy·u·σ·(1 + g·(1 − σ)), evaluated left to right like the scalar path
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(dy, u), sig);
        __m512 dg = _mm512_mul_ps(t, _mm512_add_ps(one, _mm512_mul_ps(g, _mm512_sub_ps(one, sig))));
        __m512 du = _mm512_mul_ps(dy, _mm512_mul_ps(g, sig));
        _mm512_mask_storeu_ps(dgate + i, k, dg);
        _mm512_mask_storeu_ps(dup + i, k, du);
    }
}

AVX512 static void nf4_block_avx512(const unsigned char *bytes, float scale, const float *code, float *out) {
    __m512 lut = _mm512_loadu_ps(code), s = _mm512_set1_ps(scale);
    __m512i low = _mm512_set1_epi32(15);
    // Output 2j is byte j's high nibble, 2j + 1 its low nibble.
    __m512i first = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i second = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int half = 0; half < 2; half++) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(bytes + 16 * half)));
        __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
        __m512 lo = _mm512_permutexvar_ps(_mm512_and_si512(v, low), lut);
        _mm512_storeu_ps(out + 32 * half, _mm512_mul_ps(_mm512_permutex2var_ps(hi, first, lo), s));
        _mm512_storeu_ps(out + 32 * half + 16, _mm512_mul_ps(_mm512_permutex2var_ps(hi, second, lo), s));
    }
}

AVX512 static long nf4_quantize_avx512(const float *x, size_t blocks, const float *mid, unsigned char *packed,
                                       float *absmax) {
    const __m512 lo = _mm512_set1_ps(-1.0f), hi = _mm512_set1_ps(1.0f);
    const __m512i exponent = _mm512_set1_epi32(0x7f800000);
    __m512 m[15];
    for (int i = 0; i < 15; i++) m[i] = _mm512_set1_ps(mid[i]);
    for (size_t b = 0; b < blocks; b++) {
        const float *v = x + 64 * b;
        __m512 val[4], amax = _mm512_setzero_ps();
        __mmask16 bad = 0;
        for (int c = 0; c < 4; c++) {
            val[c] = _mm512_loadu_ps(v + 16 * c);
            __m512i bits = _mm512_and_si512(_mm512_castps_si512(val[c]), exponent);
            bad |= _mm512_cmpeq_epi32_mask(bits, exponent);
            amax = _mm512_max_ps(amax, _mm512_abs_ps(val[c]));
        }
        if (bad) return (long)b;
        float lanes[16], a = 0;
        _mm512_storeu_ps(lanes, amax);
        for (int i = 0; i < 16; i++) a = lanes[i] > a ? lanes[i] : a;   // max is exact in any order
        absmax[b] = a;
        __m512 r = _mm512_set1_ps(1.0f / (a > 1e-38f ? a : 1e-38f));
        int32_t q[64];
        for (int c = 0; c < 4; c++) {
            __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(val[c], r), lo), hi);
            __m512i n = _mm512_setzero_si512();
            for (int i = 0; i < 15; i++)
                n = _mm512_mask_sub_epi32(n, _mm512_cmp_ps_mask(m[i], t, _CMP_LT_OQ), n, _mm512_set1_epi32(-1));
            _mm512_storeu_si512(q + 16 * c, n);
        }
        for (int k = 0; k < 32; k++) packed[32 * b + k] = (unsigned char)(q[2 * k] << 4 | q[2 * k + 1]);
    }
    return -1;
}

AVX512 static void rmsnorm_forward_avx512(float *out, float *rstd, const float *inp, const float *weight,
                                          size_t rows, size_t channels, float eps) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels;
        float *y = out + n * channels;
        __m512 acc = _mm512_setzero_ps();
        for (size_t c = 0; c < channels; c += 16) {
            __mmask16 k = tail_mask(channels - c);
            __m512 v = _mm512_maskz_loadu_ps(k, x + c);
            acc = _mm512_fmadd_ps(v, v, acc);
        }
        float r = 1.0f / sqrtf(hsum16(acc) / (float)channels + eps);
        rstd[n] = r;
        __m512 vr = _mm512_set1_ps(r);
        for (size_t c = 0; c < channels; c += 16) {
            __mmask16 k = tail_mask(channels - c);
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + c), vr), _mm512_maskz_loadu_ps(k, weight + c));
            _mm512_mask_storeu_ps(y + c, k, v);
        }
    }
}

AVX512 static void rmsnorm_backward_avx512(float *dinp, const float *dout, const float *inp, const float *weight,
                                           const float *rstd, size_t rows, size_t channels) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels, *dy = dout + n * channels;
        float *dx = dinp + n * channels;
        __m512 acc = _mm512_setzero_ps();
        for (size_t c = 0; c < channels; c += 16) {
            __mmask16 k = tail_mask(channels - c);
            __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + c), _mm512_maskz_loadu_ps(k, weight + c));
            acc = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(k, x + c), acc);
        }
        float r = rstd[n];
        float kk = hsum16(acc) * r * r * r / (float)channels;
        __m512 vr = _mm512_set1_ps(r), vk = _mm512_set1_ps(kk);
        for (size_t c = 0; c < channels; c += 16) {
            __mmask16 k = tail_mask(channels - c);
            __m512 a = _mm512_mul_ps(_mm512_mul_ps(vr, _mm512_maskz_loadu_ps(k, weight + c)), _mm512_maskz_loadu_ps(k, dy + c));
            __m512 b = _mm512_mul_ps(vk, _mm512_maskz_loadu_ps(k, x + c));
            _mm512_mask_storeu_ps(dx + c, k, _mm512_sub_ps(a, b));
        }
    }
}

AVX512 static void rope_row_avx512(float *row, size_t heads, size_t headDim, const float *cosRow,
                                   const float *sinRow, int inverse) {
    size_t half = headDim / 2;
    for (size_t h = 0; h < heads; h++) {
        float *v = row + h * headDim;
        for (size_t i = 0; i < half; i += 16) {
            __mmask16 k = tail_mask(half - i);
            __m512 x1 = _mm512_maskz_loadu_ps(k, v + i), x2 = _mm512_maskz_loadu_ps(k, v + i + half);
            __m512 c = _mm512_maskz_loadu_ps(k, cosRow + i), s = _mm512_maskz_loadu_ps(k, sinRow + i);
            __m512 a, b;
            if (inverse) {
                a = _mm512_add_ps(_mm512_mul_ps(x1, c), _mm512_mul_ps(x2, s));
                b = _mm512_sub_ps(_mm512_mul_ps(x2, c), _mm512_mul_ps(x1, s));
            } else {
                a = _mm512_sub_ps(_mm512_mul_ps(x1, c), _mm512_mul_ps(x2, s));
                b = _mm512_add_ps(_mm512_mul_ps(x2, c), _mm512_mul_ps(x1, s));
            }
            _mm512_mask_storeu_ps(v + i, k, a);
            _mm512_mask_storeu_ps(v + i + half, k, b);
        }
    }
}

// ---- AVX2 + FMA path ---------------------------------------------------------------------
// 8 lanes; the reductions keep the AVX-512 path's 16 lanes in two registers (lo: lanes 0-7,
// hi: lanes 8-15). Full vectors in the loops, masked loads and stores only for the tail.

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

AVX2 static inline __m256i mask8(size_t left) {   // lanes below `left` on
    return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - (left < 8 ? left : 8)));
}

AVX2 static inline __m256 exp256(__m256 x) {
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_HI), xc);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_LO), r);
    __m256 p = _mm256_set1_ps(P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    // p·2ⁿ as (p·2^⌊n/2⌋)·2^(n−⌊n/2⌋): the first product is exact, so this rounds once, as vscalefps.
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    // Below the normal range → 0, above → inf, NaN passes through.
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_HI), _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

AVX2 static float max_avx2(const float *x, size_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i < n; i += 8) {
        __m256i k = mask8(n - i);
        __m256 v = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(x + i, k), _mm256_castsi256_ps(k));
        m0 = _mm256_max_ps(m0, v);
    }
    return hmax8(_mm256_max_ps(m0, m1)) + 0.0f;
}

AVX2 static double exp_sum_avx2(float *out, const float *x, size_t n, float shift) {
    __m256d l0 = _mm256_setzero_pd(), l1 = l0, l2 = l0, l3 = l0;   // lanes 0-3, 4-7, 8-11, 12-15
    __m256 s = _mm256_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __m256 e0, e1;
        if (n - i >= 16) {
            e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
            e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), s));
            if (out) { _mm256_storeu_ps(out + i, e0); _mm256_storeu_ps(out + i + 8, e1); }
        } else {
            __m256i k0 = mask8(n - i), k1 = mask8(n - i > 8 ? n - i - 8 : 0);
            e0 = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, k0), s)), _mm256_castsi256_ps(k0));
            e1 = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i + 8, k1), s)), _mm256_castsi256_ps(k1));
            if (out) { _mm256_maskstore_ps(out + i, k0, e0); _mm256_maskstore_ps(out + i + 8, k1, e1); }
        }
        l0 = _mm256_add_pd(l0, _mm256_cvtps_pd(_mm256_castps256_ps128(e0)));
        l1 = _mm256_add_pd(l1, _mm256_cvtps_pd(_mm256_extractf128_ps(e0, 1)));
        l2 = _mm256_add_pd(l2, _mm256_cvtps_pd(_mm256_castps256_ps128(e1)));
        l3 = _mm256_add_pd(l3, _mm256_cvtps_pd(_mm256_extractf128_ps(e1, 1)));
    }
    // [j] + [j+8] gives lanes 0-3 = l0 + l2 and 4-7 = l1 + l3; then [j] + [j+4].
    return hsum4d(_mm256_add_pd(_mm256_add_pd(l0, l2), _mm256_add_pd(l1, l3)));
}

AVX2 static void scale_avx2(float *x, size_t n, float s) {
    __m256 v = _mm256_set1_ps(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), v));
    if (i < n) {
        __m256i k = mask8(n - i);
        _mm256_maskstore_ps(x + i, k, _mm256_mul_ps(_mm256_maskload_ps(x + i, k), v));
    }
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    if (i < n) {
        __m256i k0 = mask8(n - i), k1 = mask8(n - i > 8 ? n - i - 8 : 0);
        s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, k0), _mm256_maskload_ps(b + i, k0), s0);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i + 8, k1), _mm256_maskload_ps(b + i + 8, k1), s1);
    }
    return hsum8(_mm256_add_ps(s0, s1));
}

AVX2 static float sum_exp_f32_avx2(float *x, size_t n, float shift) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, sh = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh));
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
        a0 = _mm256_add_ps(a0, e0);
        a1 = _mm256_add_ps(a1, e1);
    }
    if (i < n) {
        __m256i k0 = mask8(n - i), k1 = mask8(n - i > 8 ? n - i - 8 : 0);
        __m256 e0 = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, k0), sh)), _mm256_castsi256_ps(k0));
        __m256 e1 = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i + 8, k1), sh)), _mm256_castsi256_ps(k1));
        _mm256_maskstore_ps(x + i, k0, e0);
        _mm256_maskstore_ps(x + i + 8, k1, e1);
        a0 = _mm256_add_ps(a0, e0);
        a1 = _mm256_add_ps(a1, e1);
    }
    return hsum8(_mm256_add_ps(a0, a1));
}

AVX2 static inline __m256 swiglu8(__m256 g, __m256 u) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

AVX2 static void swiglu_avx2(float *out, const float *gate, const float *up, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        __m256i k = mask8(n - i);
        _mm256_maskstore_ps(out + i, k, swiglu8(_mm256_maskload_ps(gate + i, k), _mm256_maskload_ps(up + i, k)));
    }
}

AVX2 static inline __m256 gelu_z8(__m256 g) {
    __m256 g3 = _mm256_mul_ps(g, _mm256_mul_ps(g, g));
    return _mm256_mul_ps(_mm256_set1_ps(TK_GELU_2BETA), _mm256_add_ps(g, _mm256_mul_ps(_mm256_set1_ps(TK_GELU_KAPPA), g3)));
}

AVX2 static inline __m256 geglu8(__m256 g, __m256 u) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), gelu_z8(g)));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

AVX2 static void geglu_avx2(float *out, const float *gate, const float *up, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, geglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        __m256i k = mask8(n - i);
        _mm256_maskstore_ps(out + i, k, geglu8(_mm256_maskload_ps(gate + i, k), _mm256_maskload_ps(up + i, k)));
    }
}

AVX2 static inline void geglu_backward8(__m256 g, __m256 u, __m256 dy, __m256 *dg, __m256 *du) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), gelu_z8(g)))));
    __m256 dz = _mm256_mul_ps(_mm256_set1_ps(TK_GELU_2BETA),
                              _mm256_add_ps(one, _mm256_mul_ps(_mm256_set1_ps(TK_GELU_3KAPPA), _mm256_mul_ps(g, g))));
    __m256 d = _mm256_add_ps(s, _mm256_mul_ps(_mm256_mul_ps(g, _mm256_mul_ps(s, _mm256_sub_ps(one, s))), dz));
    *dg = _mm256_mul_ps(_mm256_mul_ps(dy, u), d);
    *du = _mm256_mul_ps(dy, _mm256_mul_ps(g, s));
}

AVX2 static void geglu_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
                                     const float *up, size_t n) {
    size_t i = 0;
    __m256 dg, du;
    for (; i + 8 <= n; i += 8) {
        geglu_backward8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i), _mm256_loadu_ps(dout + i), &dg, &du);
        _mm256_storeu_ps(dgate + i, dg);
        _mm256_storeu_ps(dup + i, du);
    }
    if (i < n) {
        __m256i k = mask8(n - i);
        geglu_backward8(_mm256_maskload_ps(gate + i, k), _mm256_maskload_ps(up + i, k), _mm256_maskload_ps(dout + i, k),
                        &dg, &du);
        _mm256_maskstore_ps(dgate + i, k, dg);
        _mm256_maskstore_ps(dup + i, k, du);
    }
}

AVX2 static inline void swiglu_backward8(__m256 g, __m256 u, __m256 dy, __m256 *dg, __m256 *du) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    // dy·u·σ·(1 + g·(1 − σ)), evaluated left to right like the scalar path
    __m256 t = _mm256_mul_ps(_mm256_mul_ps(dy, u), sig);
    *dg = _mm256_mul_ps(t, _mm256_add_ps(one, _mm256_mul_ps(g, _mm256_sub_ps(one, sig))));
    *du = _mm256_mul_ps(dy, _mm256_mul_ps(g, sig));
}

AVX2 static void swiglu_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
                                      const float *up, size_t n) {
    size_t i = 0;
    __m256 dg, du;
    for (; i + 8 <= n; i += 8) {
        swiglu_backward8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i), _mm256_loadu_ps(dout + i), &dg, &du);
        _mm256_storeu_ps(dgate + i, dg);
        _mm256_storeu_ps(dup + i, du);
    }
    if (i < n) {
        __m256i k = mask8(n - i);
        swiglu_backward8(_mm256_maskload_ps(gate + i, k), _mm256_maskload_ps(up + i, k), _mm256_maskload_ps(dout + i, k),
                         &dg, &du);
        _mm256_maskstore_ps(dgate + i, k, dg);
        _mm256_maskstore_ps(dup + i, k, du);
    }
}

AVX2 static long nf4_quantize_avx2(const float *x, size_t blocks, const float *mid, unsigned char *packed,
                                   float *absmax) {
    const __m256 lo = _mm256_set1_ps(-1.0f), hi = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256 m[15];
    for (int i = 0; i < 15; i++) m[i] = _mm256_set1_ps(mid[i]);
    for (size_t b = 0; b < blocks; b++) {
        const float *v = x + 64 * b;
        __m256 val[8], amax = _mm256_setzero_ps();
        __m256i bad = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            val[c] = _mm256_loadu_ps(v + 8 * c);
            __m256i bits = _mm256_and_si256(_mm256_castps_si256(val[c]), exponent);
            bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(bits, exponent));
            amax = _mm256_max_ps(amax, _mm256_and_ps(val[c], sign));
        }
        if (!_mm256_testz_si256(bad, bad)) return (long)b;
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        float a = _mm_cvtss_f32(h);
        absmax[b] = a;
        __m256 r = _mm256_set1_ps(1.0f / (a > 1e-38f ? a : 1e-38f));
        int32_t q[64];
        for (int c = 0; c < 8; c++) {
            __m256 t = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(val[c], r), lo), hi);
            __m256i n = _mm256_setzero_si256();
            for (int i = 0; i < 15; i++)
                n = _mm256_sub_epi32(n, _mm256_castps_si256(_mm256_cmp_ps(m[i], t, _CMP_LT_OQ)));
            _mm256_storeu_si256((__m256i *)(q + 8 * c), n);
        }
        for (int k = 0; k < 32; k++) packed[32 * b + k] = (unsigned char)(q[2 * k] << 4 | q[2 * k + 1]);
    }
    return -1;
}

AVX2 static void nf4_block_avx2(const unsigned char *bytes, float scale, const float *code, float *out) {
    __m256 lut0 = _mm256_loadu_ps(code), lut1 = _mm256_loadu_ps(code + 8), s = _mm256_set1_ps(scale);
    // Each byte twice, then high nibble (shift 4) first, low nibble second: out[2j], out[2j + 1].
    const __m128i twice = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m256i shifts = _mm256_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0), low = _mm256_set1_epi32(15);
    for (int q = 0; q < 4; q++) {
        __m128i d = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(bytes + 8 * q)), twice);
        for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_cvtepu8_epi32(h ? _mm_srli_si128(d, 8) : d);
            __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(v, shifts), low);
            // code[idx]: entries 0-7 or 8-15 chosen by bit 3 of the index
            __m256 val = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lut0, idx), _mm256_permutevar8x32_ps(lut1, idx),
                                          _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
            _mm256_storeu_ps(out + 16 * q + 8 * h, _mm256_mul_ps(val, s));
        }
    }
}

AVX2 static void rmsnorm_forward_avx2(float *out, float *rstd, const float *inp, const float *weight,
                                      size_t rows, size_t channels, float eps) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels;
        float *y = out + n * channels;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            __m256 v0 = _mm256_loadu_ps(x + c), v1 = _mm256_loadu_ps(x + c + 8);
            a0 = _mm256_fmadd_ps(v0, v0, a0);
            a1 = _mm256_fmadd_ps(v1, v1, a1);
        }
        if (c < channels) {
            __m256i k0 = mask8(channels - c), k1 = mask8(channels - c > 8 ? channels - c - 8 : 0);
            __m256 v0 = _mm256_maskload_ps(x + c, k0), v1 = _mm256_maskload_ps(x + c + 8, k1);
            a0 = _mm256_fmadd_ps(v0, v0, a0);
            a1 = _mm256_fmadd_ps(v1, v1, a1);
        }
        float r = 1.0f / sqrtf(hsum8(_mm256_add_ps(a0, a1)) / (float)channels + eps);
        rstd[n] = r;
        __m256 vr = _mm256_set1_ps(r);
        for (c = 0; c + 8 <= channels; c += 8)
            _mm256_storeu_ps(y + c, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), vr), _mm256_loadu_ps(weight + c)));
        if (c < channels) {
            __m256i k = mask8(channels - c);
            _mm256_maskstore_ps(y + c, k, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(x + c, k), vr),
                                                        _mm256_maskload_ps(weight + c, k)));
        }
    }
}

AVX2 static inline __m256 rmsnorm_dx8(__m256 vr, __m256 vk, __m256 w, __m256 dy, __m256 x) {
    return _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(vr, w), dy), _mm256_mul_ps(vk, x));
}

AVX2 static void rmsnorm_backward_avx2(float *dinp, const float *dout, const float *inp, const float *weight,
                                       const float *rstd, size_t rows, size_t channels) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels, *dy = dout + n * channels;
        float *dx = dinp + n * channels;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            a0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + c), _mm256_loadu_ps(weight + c)), _mm256_loadu_ps(x + c), a0);
            a1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + c + 8), _mm256_loadu_ps(weight + c + 8)),
                                 _mm256_loadu_ps(x + c + 8), a1);
        }
        if (c < channels) {
            __m256i k0 = mask8(channels - c), k1 = mask8(channels - c > 8 ? channels - c - 8 : 0);
            a0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_maskload_ps(dy + c, k0), _mm256_maskload_ps(weight + c, k0)),
                                 _mm256_maskload_ps(x + c, k0), a0);
            a1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_maskload_ps(dy + c + 8, k1), _mm256_maskload_ps(weight + c + 8, k1)),
                                 _mm256_maskload_ps(x + c + 8, k1), a1);
        }
        float r = rstd[n];
        float kk = hsum8(_mm256_add_ps(a0, a1)) * r * r * r / (float)channels;
        __m256 vr = _mm256_set1_ps(r), vk = _mm256_set1_ps(kk);
        for (c = 0; c + 8 <= channels; c += 8)
            _mm256_storeu_ps(dx + c, rmsnorm_dx8(vr, vk, _mm256_loadu_ps(weight + c), _mm256_loadu_ps(dy + c), _mm256_loadu_ps(x + c)));
        if (c < channels) {
            __m256i k = mask8(channels - c);
            _mm256_maskstore_ps(dx + c, k, rmsnorm_dx8(vr, vk, _mm256_maskload_ps(weight + c, k), _mm256_maskload_ps(dy + c, k),
                                                       _mm256_maskload_ps(x + c, k)));
        }
    }
}

AVX2 static inline void rope8(float *v1, float *v2, const float *cp, const float *sp, int inverse, __m256i k, int full) {
    __m256 x1 = full ? _mm256_loadu_ps(v1) : _mm256_maskload_ps(v1, k);
    __m256 x2 = full ? _mm256_loadu_ps(v2) : _mm256_maskload_ps(v2, k);
    __m256 c = full ? _mm256_loadu_ps(cp) : _mm256_maskload_ps(cp, k);
    __m256 s = full ? _mm256_loadu_ps(sp) : _mm256_maskload_ps(sp, k);
    __m256 a, b;
    if (inverse) {
        a = _mm256_add_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x2, s));
        b = _mm256_sub_ps(_mm256_mul_ps(x2, c), _mm256_mul_ps(x1, s));
    } else {
        a = _mm256_sub_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x2, s));
        b = _mm256_add_ps(_mm256_mul_ps(x2, c), _mm256_mul_ps(x1, s));
    }
    if (full) {
        _mm256_storeu_ps(v1, a);
        _mm256_storeu_ps(v2, b);
    } else {
        _mm256_maskstore_ps(v1, k, a);
        _mm256_maskstore_ps(v2, k, b);
    }
}

AVX2 static void rope_row_avx2(float *row, size_t heads, size_t headDim, const float *cosRow,
                               const float *sinRow, int inverse) {
    size_t half = headDim / 2;
    __m256i all = _mm256_set1_epi32(-1);
    for (size_t h = 0; h < heads; h++) {
        float *v = row + h * headDim;
        size_t i = 0;
        for (; i + 8 <= half; i += 8) rope8(v + i, v + i + half, cosRow + i, sinRow + i, inverse, all, 1);
        if (i < half) rope8(v + i, v + i + half, cosRow + i, sinRow + i, inverse, mask8(half - i), 0);
    }
}

// ---- bf16 GEMM (AVX512-BF16) -------------------------------------------------------------
// A and B are rounded to bf16 and packed as pairs along K (one uint32 per pair: low half the
// even k), so vdpbf16ps adds a[k]·b[k] + a[k+1]·b[k+1] into an fp32 lane per output column.
// Blocks of 4 rows × 32 columns keep 8 accumulators in registers.

static inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;   // round to nearest even (finite inputs)
}

static uint32_t *bf16_a, *bf16_b;
static size_t bf16_a_cap, bf16_b_cap;

static uint32_t *grow(uint32_t **buf, size_t *cap, size_t need) {
    if (need > *cap) {
        free(*buf);
        *buf = malloc(need * sizeof(uint32_t));
        *cap = *buf ? need : 0;
    }
    return *buf;
}

#define BF16 __attribute__((target("avx512f,avx512dq,f16c,avx512bf16")))

BF16 static void bf16_gemm_avx512(size_t m, size_t n, size_t kp, const uint32_t *ap, const uint32_t *bp,
                                  float *c, size_t ldc, float beta) {
    for (size_t n0 = 0; n0 < n; n0 += 32) {
        __mmask16 k0 = tail_mask(n - n0), k1 = n - n0 > 16 ? tail_mask(n - n0 - 16) : 0;
        for (size_t m0 = 0; m0 < m; m0 += 4) {
            size_t rows = m - m0 < 4 ? m - m0 : 4;
            __m512 acc[4][2];
            for (int r = 0; r < 4; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
            for (size_t p = 0; p < kp; p++) {
                __m512i b0 = _mm512_maskz_loadu_epi32(k0, bp + p * n + n0);
                __m512i b1 = _mm512_maskz_loadu_epi32(k1, bp + p * n + n0 + 16);
                for (size_t r = 0; r < rows; r++) {
                    __m512i a = _mm512_set1_epi32((int)ap[(m0 + r) * kp + p]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], (__m512bh)a, (__m512bh)b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], (__m512bh)a, (__m512bh)b1);
                }
            }
            for (size_t r = 0; r < rows; r++) {
                float *row = c + (m0 + r) * ldc + n0;
                if (beta != 0) {
                    acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(k0, row));
                    acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(k1, row + 16));
                }
                _mm512_mask_storeu_ps(row, k0, acc[r][0]);
                _mm512_mask_storeu_ps(row + 16, k1, acc[r][1]);
            }
        }
    }
}
#endif  // __x86_64__

// ---- dispatch ----------------------------------------------------------------------------
// The process path is chosen once, from the CPU and TESSERA_KERNELS; a thread may override it
// (tk_set_kernel_path, for tests that compare the paths in one process).

static int cpu_path = -1;        // best path this CPU runs
static int scalar_fma = 0;       // 1: the scalar path uses the *_scalar_fma kernels (FMA instruction)
static int process_path = -1;    // the path in use unless the thread overrides it
static _Thread_local int thread_path = -1;
static const char *const path_names[3] = {"scalar", "avx2", "avx512"};

static int best_cpu_path(void) {
    int best = __atomic_load_n(&cpu_path, __ATOMIC_RELAXED);
    if (best >= 0) return best;
    best = TK_PATH_SCALAR;
#if defined(__x86_64__)
    __builtin_cpu_init();
#if defined(HAVE_SCALAR_FMA)
    __atomic_store_n(&scalar_fma, __builtin_cpu_supports("fma") ? 1 : 0, __ATOMIC_RELAXED);
#endif
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
        best = TK_PATH_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) best = TK_PATH_AVX512;
    }
#endif
    __atomic_store_n(&cpu_path, best, __ATOMIC_RELAXED);
    return best;
}

// TESSERA_KERNELS=avx512|avx2|scalar forces a path (auto or unset: the CPU's best). A path the
// CPU lacks falls back to the best one it has, and an unknown value to the CPU's choice, each
// with one line on stderr; tk_kernel_path() then reports the path actually in use.
__attribute__((noinline, cold)) static int init_process_path(void) {
    int best = best_cpu_path(), path = best;
    char note[200] = "";
    const char *force = getenv("TESSERA_KERNELS");
    if (force && *force && strcmp(force, "auto") != 0) {
        int want = -1;
        for (int p = 0; p < 3; p++) if (strcmp(force, path_names[p]) == 0) want = p;
        if (want < 0)
            snprintf(note, sizeof note, "TESSERA_KERNELS=%s is not avx512, avx2, scalar or auto; using %s", force,
                     path_names[best]);
        else if (want > best)
            snprintf(note, sizeof note, "TESSERA_KERNELS=%s: this CPU lacks %s; using %s", force,
                     want == TK_PATH_AVX512 ? "AVX-512F/DQ" : "AVX2, FMA or F16C", path_names[best]);
        else
            path = want;
    }
    int expected = -1;
    if (__atomic_compare_exchange_n(&process_path, &expected, path, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        if (note[0]) fprintf(stderr, "tessera: %s\n", note);
        return path;
    }
    return expected;   // another thread chose first (the same value)
}

static inline int kernel_path(void) {
    int p = thread_path;
    if (p >= 0) return p;
    p = __atomic_load_n(&process_path, __ATOMIC_RELAXED);
    return p >= 0 ? p : init_process_path();
}

int tk_kernel_path(void) { return kernel_path(); }

const char *tk_kernel_path_name(int path) { return path >= 0 && path < 3 ? path_names[path] : "unknown"; }

int tk_kernel_path_supported(int path) { return path >= 0 && path <= best_cpu_path(); }

int tk_set_kernel_path(int path) {
    if (path < 0) { thread_path = -1; return 1; }
    if (!tk_kernel_path_supported(path)) return 0;
    thread_path = path;
    return 1;
}

int tk_simd_enabled(void) { return kernel_path() != TK_PATH_SCALAR; }

int tk_bf16_available(void) {
#if defined(__x86_64__)
    return kernel_path() == TK_PATH_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

void tk_bf16_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, size_t ldw,
                  int transposedW, float *c, size_t ldc, float beta) {
#if defined(__x86_64__)
    size_t kp = (k + 1) / 2;
    uint32_t *ap = grow(&bf16_a, &bf16_a_cap, m * kp), *bp = grow(&bf16_b, &bf16_b_cap, kp * n);
    if (!ap || !bp || !tk_bf16_available()) abort();   // callers check availability; out of memory is fatal
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < kp; p++) {
            uint32_t lo = bf16_bits(a[i * lda + 2 * p]), hi = 2 * p + 1 < k ? bf16_bits(a[i * lda + 2 * p + 1]) : 0;
            ap[i * kp + p] = lo | (hi << 16);
        }
    for (size_t p = 0; p < kp; p++)
        for (size_t j = 0; j < n; j++) {
            float w0 = transposedW ? w[j * ldw + 2 * p] : w[2 * p * ldw + j];
            uint32_t hi = 0;
            if (2 * p + 1 < k) hi = bf16_bits(transposedW ? w[j * ldw + 2 * p + 1] : w[(2 * p + 1) * ldw + j]);
            bp[p * n + j] = bf16_bits(w0) | (hi << 16);
        }
    bf16_gemm_avx512(m, n, kp, ap, bp, c, ldc, beta);
#else
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)w; (void)ldw; (void)transposedW; (void)c; (void)ldc; (void)beta;
    abort();
#endif
}

int tk_release_free_heap(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

#if defined(__x86_64__) && defined(HAVE_SCALAR_FMA)
#define SCALAR_CALL(name, args) \
    (__atomic_load_n(&scalar_fma, __ATOMIC_RELAXED) ? name##_scalar_fma args : name##_scalar args)
#elif defined(__x86_64__)
#define SCALAR_CALL(name, args) name##_scalar args
#endif
#if defined(__x86_64__)
#define SELECT(name, args) \
    switch (kernel_path()) { \
    case TK_PATH_AVX512: return name##_avx512 args; \
    case TK_PATH_AVX2: return name##_avx2 args; \
    default: return SCALAR_CALL(name, args); \
    }
#define SELECT_VOID(name, args) \
    switch (kernel_path()) { \
    case TK_PATH_AVX512: name##_avx512 args; return; \
    case TK_PATH_AVX2: name##_avx2 args; return; \
    default: SCALAR_CALL(name, args); return; \
    }
#else
#define SELECT(name, args) return name##_scalar args;
#define SELECT_VOID(name, args) name##_scalar args;
#endif

float tk_max(const float *x, size_t n) { SELECT(max, (x, n)) }

double tk_exp_sum(float *out, const float *x, size_t n, float shift) { SELECT(exp_sum, (out, x, n, shift)) }

void tk_scale(float *x, size_t n, float s) { SELECT_VOID(scale, (x, n, s)) }

static float sum_exp_f32(float *x, size_t n, float shift) { SELECT(sum_exp_f32, (x, n, shift)) }

static float dot(const float *a, const float *b, size_t n) { SELECT(dot, (a, b, n)) }

float tk_softmax_row(float *x, size_t n) {
    float m = tk_max(x, n);
    float s = sum_exp_f32(x, n, m);
    tk_scale(x, n, 1.0f / s);
    return logf(s) + m;
}

void tk_softmax_row_backward(float *dx, const float *dy, const float *y, size_t n) {
    float d = dot(dy, y, n);
    for (size_t i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - d);
}

void tk_nf4_block(const unsigned char *bytes, float scale, const float *code, float *out) {
    SELECT_VOID(nf4_block, (bytes, scale, code, out))
}

long tk_nf4_quantize(const float *x, size_t blocks, const float *midpoints, unsigned char *packed, float *absmax) {
    SELECT(nf4_quantize, (x, blocks, midpoints, packed, absmax))
}

void tk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                        size_t channels, float eps) {
    SELECT_VOID(rmsnorm_forward, (out, rstd, inp, weight, rows, channels, eps))
}

void tk_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *weight,
                         const float *rstd, size_t rows, size_t channels) {
    SELECT_VOID(rmsnorm_backward, (dinp, dout, inp, weight, rstd, rows, channels))
}

void tk_rope_row(float *row, size_t heads, size_t headDim, const float *cosRow, const float *sinRow, int inverse) {
    SELECT_VOID(rope_row, (row, heads, headDim, cosRow, sinRow, inverse))
}

void tk_swiglu(float *out, const float *gate, const float *up, size_t n) { SELECT_VOID(swiglu, (out, gate, up, n)) }

void tk_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
    SELECT_VOID(swiglu_backward, (dgate, dup, dout, gate, up, n))
}

void tk_geglu(float *out, const float *gate, const float *up, size_t n) { SELECT_VOID(geglu, (out, gate, up, n)) }

void tk_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
    SELECT_VOID(geglu_backward, (dgate, dup, dout, gate, up, n))
}
