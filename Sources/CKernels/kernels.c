// See include/CKernels.h. One exp: Cephes' degree-6 polynomial on r = x − n·ln2 (n rounded to
// nearest), scaled by 2ⁿ; inputs below −87.336 (results below FLT_MIN) give 0, so no
// denormal ever reaches a multiply. The AVX-512 and scalar paths evaluate the same formula with
// fused multiply-adds, so they agree bit for bit.

#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#if defined(__GLIBC__)   // defined by the libc headers above
#include <malloc.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define EXP_LO (-87.33654f)
#define EXP_HI (88.72283f)
static const float LOG2E = 1.44269504088896341f;
static const float LN2_HI = 0.693359375f;
static const float LN2_LO = -2.12194440e-4f;
static const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
                   P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

// ---- scalar path -------------------------------------------------------------------------

float tk_exp(float x) {
    if (x != x) return x;
    if (x < EXP_LO) return 0.0f;
    if (x > EXP_HI) return INFINITY;
    float n = nearbyintf(x * LOG2E);
    float r = fmaf(n, -LN2_HI, x);
    r = fmaf(n, -LN2_LO, r);
    float p = P0;
    p = fmaf(p, r, P1);
    p = fmaf(p, r, P2);
    p = fmaf(p, r, P3);
    p = fmaf(p, r, P4);
    p = fmaf(p, r, P5);
    p = fmaf(p, r * r, r) + 1.0f;
    return ldexpf(p, (int)n);
}

static float max_scalar(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    return m;
}

static double exp_sum_scalar(float *out, const float *x, size_t n, float shift) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        float e = tk_exp(x[i] - shift);
        if (out) out[i] = e;
        s += e;
    }
    return s;
}

static void scale_scalar(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

static float dot_scalar(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float sum_exp_f32_scalar(float *x, size_t n, float shift) {
    float s = 0;
    for (size_t i = 0; i < n; i++) { float e = tk_exp(x[i] - shift); x[i] = e; s += e; }
    return s;
}

static void swiglu_scalar(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + tk_exp(-g)) * up[i];
    }
}

static void swiglu_backward_scalar(float *dgate, float *dup, const float *dout, const float *gate,
                                   const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], u = up[i], dy = dout[i];
        float sig = 1.0f / (1.0f + tk_exp(-g));
        dgate[i] = dy * u * sig * (1.0f + g * (1.0f - sig));
        dup[i] = dy * (g * sig);
    }
}

// ---- AVX-512 path ------------------------------------------------------------------------

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,avx512dq,f16c")))

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

AVX512 static float max_avx512(const float *x, size_t n) {
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, x + i));
    }
    return _mm512_reduce_max_ps(m);
}

AVX512 static double exp_sum_avx512(float *out, const float *x, size_t n, float shift) {
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    __m512 s = _mm512_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s));
        e = _mm512_maskz_mov_ps(k, e);
        if (out) _mm512_mask_storeu_ps(out + i, k, e);
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
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
    return _mm512_reduce_add_ps(s);
}

AVX512 static float sum_exp_f32_avx512(float *x, size_t n, float shift) {
    __m512 acc = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), sh)));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
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

AVX512 static void q4_1_blocks_avx512(const unsigned char *src, size_t blocks, float *y) {
    __m512i low = _mm512_set1_epi32(15);
    for (size_t b = 0; b < blocks; b++) {
        const unsigned char *block = src + 20 * b;
        unsigned short hd, hm;
        memcpy(&hd, block, 2);
        memcpy(&hm, block + 2, 2);
        __m512 d = _mm512_set1_ps(_cvtsh_ss(hd)), m = _mm512_set1_ps(_cvtsh_ss(hm));
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(block + 4)));
        __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, low));
        __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4));
        _mm512_storeu_ps(y + 32 * b, _mm512_add_ps(_mm512_mul_ps(lo, d), m));
        _mm512_storeu_ps(y + 32 * b + 16, _mm512_add_ps(_mm512_mul_ps(hi, d), m));
    }
}

AVX512 static void q8_0_blocks_avx512(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++) {
        const unsigned char *block = src + 34 * b;
        unsigned short hd;
        memcpy(&hd, block, 2);
        __m512 d = _mm512_set1_ps(_cvtsh_ss(hd));
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(block + 2 + 16 * h)));
            _mm512_storeu_ps(y + 32 * b + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
        }
    }
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
        float r = 1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)channels + eps);
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
        float kk = _mm512_reduce_add_ps(acc) * r * r * r / (float)channels;
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

int tk_bf16_available(void) {
#if defined(__x86_64__)
    return tk_simd_enabled() && __builtin_cpu_supports("avx512bf16");
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

static void nf4_block_scalar(const unsigned char *bytes, float scale, const float *code, float *out) {
    for (int j = 0; j < 32; j++) {
        out[2 * j] = code[bytes[j] >> 4] * scale;
        out[2 * j + 1] = code[bytes[j] & 15] * scale;
    }
}

int tk_release_free_heap(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

// ---- dispatch ----------------------------------------------------------------------------

static int simd_state = -1;  // -1 unknown, 0 scalar, 1 AVX-512 (a benign race: every writer stores the same)

int tk_simd_enabled(void) {
    if (simd_state < 0) {
        int use = 0;
#if defined(__x86_64__)
        __builtin_cpu_init();
        use = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#endif
        const char *force = getenv("TESSERA_KERNELS");
        if (force && strcmp(force, "scalar") == 0) use = 0;
        simd_state = use;
    }
    return simd_state;
}

#if defined(__x86_64__)
#define DISPATCH(simd, scalar) (tk_simd_enabled() ? (simd) : (scalar))
#else
#define DISPATCH(simd, scalar) (scalar)
#endif

float tk_max(const float *x, size_t n) { return DISPATCH(max_avx512(x, n), max_scalar(x, n)); }

double tk_exp_sum(float *out, const float *x, size_t n, float shift) {
    return DISPATCH(exp_sum_avx512(out, x, n, shift), exp_sum_scalar(out, x, n, shift));
}

void tk_scale(float *x, size_t n, float s) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { scale_avx512(x, n, s); return; }
#endif
    scale_scalar(x, n, s);
}

float tk_softmax_row(float *x, size_t n) {
    float m = tk_max(x, n);
    float s = DISPATCH(sum_exp_f32_avx512(x, n, m), sum_exp_f32_scalar(x, n, m));
    tk_scale(x, n, 1.0f / s);
    return logf(s) + m;
}

void tk_softmax_row_backward(float *dx, const float *dy, const float *y, size_t n) {
    float dot = DISPATCH(dot_avx512(dy, y, n), dot_scalar(dy, y, n));
    for (size_t i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - dot);
}

void tk_nf4_block(const unsigned char *bytes, float scale, const float *code, float *out) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { nf4_block_avx512(bytes, scale, code, out); return; }
#endif
    nf4_block_scalar(bytes, scale, code, out);
}

int tk_q4_1_blocks(const void *src, size_t blocks, float *y) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { q4_1_blocks_avx512((const unsigned char *)src, blocks, y); return 1; }
#else
    (void)src; (void)blocks; (void)y;
#endif
    return 0;
}

int tk_q8_0_blocks(const void *src, size_t blocks, float *y) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { q8_0_blocks_avx512((const unsigned char *)src, blocks, y); return 1; }
#else
    (void)src; (void)blocks; (void)y;
#endif
    return 0;
}

static void rmsnorm_forward_scalar(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                                   size_t channels, float eps) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels;
        float *y = out + n * channels;
        float sum = 0;
        for (size_t c = 0; c < channels; c++) sum += x[c] * x[c];
        float r = 1.0f / sqrtf(sum / (float)channels + eps);
        rstd[n] = r;
        for (size_t c = 0; c < channels; c++) y[c] = (x[c] * r) * weight[c];
    }
}

static void rmsnorm_backward_scalar(float *dinp, const float *dout, const float *inp, const float *weight,
                                    const float *rstd, size_t rows, size_t channels) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels, *dy = dout + n * channels;
        float *dx = dinp + n * channels;
        float dot = 0, r = rstd[n];
        for (size_t c = 0; c < channels; c++) dot += dy[c] * weight[c] * x[c];
        float k = dot * r * r * r / (float)channels;
        for (size_t c = 0; c < channels; c++) dx[c] = r * weight[c] * dy[c] - k * x[c];
    }
}

static void rope_row_scalar(float *row, size_t heads, size_t headDim, const float *c, const float *s, int inverse) {
    size_t half = headDim / 2;
    for (size_t h = 0; h < heads; h++) {
        float *v = row + h * headDim;
        for (size_t i = 0; i < half; i++) {
            float x1 = v[i], x2 = v[i + half];
            if (inverse) {
                v[i] = x1 * c[i] + x2 * s[i];
                v[i + half] = x2 * c[i] - x1 * s[i];
            } else {
                v[i] = x1 * c[i] - x2 * s[i];
                v[i + half] = x2 * c[i] + x1 * s[i];
            }
        }
    }
}

void tk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                        size_t channels, float eps) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { rmsnorm_forward_avx512(out, rstd, inp, weight, rows, channels, eps); return; }
#endif
    rmsnorm_forward_scalar(out, rstd, inp, weight, rows, channels, eps);
}

void tk_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *weight,
                         const float *rstd, size_t rows, size_t channels) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { rmsnorm_backward_avx512(dinp, dout, inp, weight, rstd, rows, channels); return; }
#endif
    rmsnorm_backward_scalar(dinp, dout, inp, weight, rstd, rows, channels);
}

void tk_rope_row(float *row, size_t heads, size_t headDim, const float *cosRow, const float *sinRow, int inverse) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { rope_row_avx512(row, heads, headDim, cosRow, sinRow, inverse); return; }
#endif
    rope_row_scalar(row, heads, headDim, cosRow, sinRow, inverse);
}

void tk_swiglu(float *out, const float *gate, const float *up, size_t n) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { swiglu_avx512(out, gate, up, n); return; }
#endif
    swiglu_scalar(out, gate, up, n);
}

void tk_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
#if defined(__x86_64__)
    if (tk_simd_enabled()) { swiglu_backward_avx512(dgate, dup, dout, gate, up, n); return; }
#endif
    swiglu_backward_scalar(dgate, dup, dout, gate, up, n);
}
