// GGML block formats to fp32 (ggml-quants.c `dequantize_row_*`), on the three paths of
// kernels.c: scalar C, AVX2 (8 lanes) and AVX-512 (16 lanes), chosen by tk_kernel_path().
// They run wherever a GGUF weight is read: at load, where every frozen matrix is converted tile
// by tile to NF4 or fp32 (a Q4_K_M file of an 8B model is 7 billion of these elements).
//
// Every path evaluates ggml's scalar formula with its roundings: a block's scales are converted
// from half once (the same bit manipulation on every path, so the paths cannot differ there),
// the per-sub-block scales are the same fp32 products, and each element is one integer-to-float
// conversion followed by the multiply and the add or subtract written, never fused (see
// FP_CONTRACT below). So the three paths agree bit for bit, with each other and with ggml.
//
// Block layouts (bytes):
//   Q8_0 [34]:  d: half | qs: int8[32]                    y[j] = qs[j]·d
//   Q4_0 [18]:  d: half | qs: u8[16]                      y[j] = ((qs[j] & 15) − 8)·d, y[j+16] = ((qs[j] >> 4) − 8)·d
//   Q4_1 [20]:  d: half | m: half | qs: u8[16]            y[j] = (qs[j] & 15)·d + m,   y[j+16] = (qs[j] >> 4)·d + m
//   Q5_0 [22]:  d: half | qh: u32 | qs: u8[16]            5th bit of element j is bit j of qh
//   Q4_K [144]: d | dmin | scales: u8[12] | qs: u8[128]   8 sub-blocks of 32 with 6-bit scale and min
//   Q5_K [176]: d | dmin | scales: u8[12] | qh: u8[32] | qs: u8[128]
//   Q6_K [210]: ql: u8[128] | qh: u8[64] | scales: int8[16] | d: half
// Low nibbles hold the first half of a (sub-)block, high nibbles the second.

#include "CKernels.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// The half at p as float, exactly (Giesen's rebias; subnormals renormalised by one exact float
// subtraction; inf and NaN keep their payload), as Quantization's HalfFloat.toFloat does.
static inline float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t out = (uint32_t)(h & 0x7FFF) << 13, exponent = out & (0x7C00u << 13);
    out += (uint32_t)(127 - 15) << 23;
    float f;
    if (exponent == (0x7C00u << 13)) {
        out += (uint32_t)(128 - 16) << 23;
    } else if (exponent == 0) {
        out += 1u << 23;
        uint32_t bias = 113u << 23;
        float a, b;
        memcpy(&a, &out, 4);
        memcpy(&b, &bias, 4);
        a = a - b;
        memcpy(&out, &a, 4);
    }
    out |= (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &out, 4);
    return f;
}

// ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
static inline void scale_min_k4(int j, const unsigned char *q, int *scale, int *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// ---- scalar --------------------------------------------------------------------------------

static void q8_0_scalar(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 34, y += 32) {
        float d = half_at(src);
        for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)src[2 + j] * d;
    }
}

static void q4_0_scalar(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 18, y += 32) {
        float d = half_at(src);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((src[2 + j] & 15) - 8) * d;
            y[j + 16] = (float)((src[2 + j] >> 4) - 8) * d;
        }
    }
}

static void q4_1_scalar(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 20, y += 32) {
        float d = half_at(src), m = half_at(src + 2);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(src[4 + j] & 15) * d + m;
            y[j + 16] = (float)(src[4 + j] >> 4) * d + m;
        }
    }
}

static void q5_0_scalar(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 22, y += 32) {
        float d = half_at(src);
        uint32_t qh;
        memcpy(&qh, src + 2, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(((src[6 + j] & 15) | h0) - 16) * d;
            y[j + 16] = (float)(((src[6 + j] >> 4) | h1) - 16) * d;
        }
    }
}

// Q4_K and Q5_K: chunk c (64 elements) uses sub-blocks 2c and 2c+1; qh (Q5_K) holds the 5th
// bits, bit 2c for the low nibbles and 2c+1 for the high ones (qh == NULL for Q4_K).
static void k4_chunk_scalar(const unsigned char *q, const unsigned char *qh, int c, float d1, float m1, float d2,
                            float m2, float *out) {
    for (int l = 0; l < 32; l++) {
        int h1 = qh ? ((qh[l] >> (2 * c)) & 1) << 4 : 0, h2 = qh ? ((qh[l] >> (2 * c + 1)) & 1) << 4 : 0;
        out[l] = d1 * (float)((q[l] & 15) + h1) - m1;
        out[l + 32] = d2 * (float)((q[l] >> 4) + h2) - m2;
    }
}

static void q6_k_half_scalar(const unsigned char *ql, const unsigned char *qh, const int8_t *sc, float d, float *out) {
    for (int l = 0; l < 32; l++) {
        int s = l / 16;
        int q1 = ((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * (float)sc[s] * (float)q1;   // ggml's order: (d · sc) · q
        out[l + 32] = d * (float)sc[s + 2] * (float)q2;
        out[l + 64] = d * (float)sc[s + 4] * (float)q3;
        out[l + 96] = d * (float)sc[s + 6] * (float)q4;
    }
}

// The K formats share their block walk; each path supplies the chunk and half kernels.
#define K_BLOCKS(path, chunk, q6half)                                                                        \
    static void q4_k_##path(const unsigned char *src, size_t blocks, float *y) {                            \
        for (size_t b = 0; b < blocks; b++, src += 144, y += 256) {                                          \
            float d = half_at(src), dmin = half_at(src + 2);                                                 \
            for (int c = 0; c < 4; c++) {                                                                    \
                int s1, m1, s2, m2;                                                                          \
                scale_min_k4(2 * c, src + 4, &s1, &m1);                                                      \
                scale_min_k4(2 * c + 1, src + 4, &s2, &m2);                                                  \
                chunk(src + 16 + 32 * c, NULL, c, d * (float)s1, dmin * (float)m1, d * (float)s2,            \
                      dmin * (float)m2, y + 64 * c);                                                         \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    static void q5_k_##path(const unsigned char *src, size_t blocks, float *y) {                            \
        for (size_t b = 0; b < blocks; b++, src += 176, y += 256) {                                          \
            float d = half_at(src), dmin = half_at(src + 2);                                                 \
            for (int c = 0; c < 4; c++) {                                                                    \
                int s1, m1, s2, m2;                                                                          \
                scale_min_k4(2 * c, src + 4, &s1, &m1);                                                      \
                scale_min_k4(2 * c + 1, src + 4, &s2, &m2);                                                  \
                chunk(src + 48 + 32 * c, src + 16, c, d * (float)s1, dmin * (float)m1, d * (float)s2,        \
                      dmin * (float)m2, y + 64 * c);                                                         \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    static void q6_k_##path(const unsigned char *src, size_t blocks, float *y) {                            \
        for (size_t b = 0; b < blocks; b++, src += 210, y += 256) {                                          \
            float d = half_at(src + 208);                                                                    \
            for (int h = 0; h < 2; h++)                                                                      \
                q6half(src + 64 * h, src + 128 + 32 * h, (const int8_t *)(src + 192 + 8 * h), d, y + 128 * h); \
        }                                                                                                    \
    }

K_BLOCKS(scalar, k4_chunk_scalar, q6_k_half_scalar)

// ---- x86 vector paths ----------------------------------------------------------------------

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#if defined(TK_AVX512_ON_SIMDE)   // Tests/CKernelsCheck/avx512_on_simde.h: the AVX-512 code on SIMDe
#define AVX512 AVX2
#else
#define AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma,f16c")))
#endif

// 8 bytes at p as eight int32 lanes (zero- or sign-extended).
#define U8X8(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#define I8X8(p) _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#define U8X16(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p)))
#define I8X16(p) _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p)))

AVX2 static void q8_0_avx2(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 34, y += 32) {
        __m256 d = _mm256_set1_ps(half_at(src));
        for (int g = 0; g < 4; g++) _mm256_storeu_ps(y + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(I8X8(src + 2 + 8 * g)), d));
    }
}

AVX2 static void q4_0_avx2(const unsigned char *src, size_t blocks, float *y) {
    __m256i low = _mm256_set1_epi32(15), eight = _mm256_set1_epi32(8);
    for (size_t b = 0; b < blocks; b++, src += 18, y += 32) {
        __m256 d = _mm256_set1_ps(half_at(src));
        for (int g = 0; g < 2; g++) {
            __m256i q = U8X8(src + 2 + 8 * g);
            __m256i lo = _mm256_sub_epi32(_mm256_and_si256(q, low), eight), hi = _mm256_sub_epi32(_mm256_srli_epi32(q, 4), eight);
            _mm256_storeu_ps(y + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d));
            _mm256_storeu_ps(y + 16 + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d));
        }
    }
}

AVX2 static void q4_1_avx2(const unsigned char *src, size_t blocks, float *y) {
    __m256i low = _mm256_set1_epi32(15);
    for (size_t b = 0; b < blocks; b++, src += 20, y += 32) {
        __m256 d = _mm256_set1_ps(half_at(src)), m = _mm256_set1_ps(half_at(src + 2));
        for (int g = 0; g < 2; g++) {
            __m256i q = U8X8(src + 4 + 8 * g);
            __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(q, low)), hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(q, 4));
            _mm256_storeu_ps(y + 8 * g, _mm256_add_ps(_mm256_mul_ps(lo, d), m));
            _mm256_storeu_ps(y + 16 + 8 * g, _mm256_add_ps(_mm256_mul_ps(hi, d), m));
        }
    }
}

AVX2 static void q5_0_avx2(const unsigned char *src, size_t blocks, float *y) {
    __m256i low = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1), sixteen = _mm256_set1_epi32(16);
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t b = 0; b < blocks; b++, src += 22, y += 32) {
        __m256 d = _mm256_set1_ps(half_at(src));
        uint32_t bits;
        memcpy(&bits, src + 2, 4);
        __m256i qh = _mm256_set1_epi32((int)bits);
        for (int g = 0; g < 2; g++) {
            __m256i q = U8X8(src + 6 + 8 * g);
            __m256i j = _mm256_add_epi32(lanes, _mm256_set1_epi32(8 * g));
            __m256i h0 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(qh, j), one), 4);
            __m256i h1 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(qh, _mm256_add_epi32(j, sixteen)), one), 4);
            __m256i lo = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(q, low), h0), sixteen);
            __m256i hi = _mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(q, 4), h1), sixteen);
            _mm256_storeu_ps(y + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d));
            _mm256_storeu_ps(y + 16 + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d));
        }
    }
}

AVX2 static void k4_chunk_avx2(const unsigned char *q, const unsigned char *qh, int c, float d1, float m1, float d2,
                               float m2, float *out) {
    __m256i low = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
    __m128i shift1 = _mm_cvtsi32_si128(2 * c), shift2 = _mm_cvtsi32_si128(2 * c + 1);
    __m256 vd1 = _mm256_set1_ps(d1), vm1 = _mm256_set1_ps(m1), vd2 = _mm256_set1_ps(d2), vm2 = _mm256_set1_ps(m2);
    for (int g = 0; g < 4; g++) {
        __m256i v = U8X8(q + 8 * g);
        __m256i lo = _mm256_and_si256(v, low), hi = _mm256_srli_epi32(v, 4);
        if (qh) {
            __m256i h = U8X8(qh + 8 * g);
            lo = _mm256_add_epi32(lo, _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(h, shift1), one), 4));
            hi = _mm256_add_epi32(hi, _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(h, shift2), one), 4));
        }
        _mm256_storeu_ps(out + 8 * g, _mm256_sub_ps(_mm256_mul_ps(vd1, _mm256_cvtepi32_ps(lo)), vm1));
        _mm256_storeu_ps(out + 32 + 8 * g, _mm256_sub_ps(_mm256_mul_ps(vd2, _mm256_cvtepi32_ps(hi)), vm2));
    }
}

AVX2 static void q6_k_half_avx2(const unsigned char *ql, const unsigned char *qh, const int8_t *sc, float d, float *out) {
    __m256i low = _mm256_set1_epi32(15), three = _mm256_set1_epi32(3), bias = _mm256_set1_epi32(32);
    for (int g = 0; g < 4; g++) {   // elements 8g..8g+7 of each quarter; sub-block s = g/2
        int s = g / 2;
        __m256i a = U8X8(ql + 8 * g), b = U8X8(ql + 32 + 8 * g), h = U8X8(qh + 8 * g);
        __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, low), _mm256_slli_epi32(_mm256_and_si256(h, three), 4));
        __m256i q2 = _mm256_or_si256(_mm256_and_si256(b, low), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), three), 4));
        __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), three), 4));
        __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(b, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 6), three), 4));
        __m256i qs[4] = {q1, q2, q3, q4};
        for (int k = 0; k < 4; k++) {
            __m256 scale = _mm256_set1_ps(d * (float)sc[s + 2 * k]);
            _mm256_storeu_ps(out + 32 * k + 8 * g, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(qs[k], bias))));
        }
    }
}

AVX512 static void q8_0_avx512(const unsigned char *src, size_t blocks, float *y) {
    for (size_t b = 0; b < blocks; b++, src += 34, y += 32) {
        __m512 d = _mm512_set1_ps(half_at(src));
        for (int g = 0; g < 2; g++) _mm512_storeu_ps(y + 16 * g, _mm512_mul_ps(_mm512_cvtepi32_ps(I8X16(src + 2 + 16 * g)), d));
    }
}

AVX512 static void q4_0_avx512(const unsigned char *src, size_t blocks, float *y) {
    __m512i low = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
    for (size_t b = 0; b < blocks; b++, src += 18, y += 32) {
        __m512 d = _mm512_set1_ps(half_at(src));
        __m512i q = U8X16(src + 2);
        __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low), eight), hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
    }
}

AVX512 static void q4_1_avx512(const unsigned char *src, size_t blocks, float *y) {
    __m512i low = _mm512_set1_epi32(15);
    for (size_t b = 0; b < blocks; b++, src += 20, y += 32) {
        __m512 d = _mm512_set1_ps(half_at(src)), m = _mm512_set1_ps(half_at(src + 2));
        __m512i q = U8X16(src + 4);
        __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, low)), hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4));
        _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(lo, d), m));
        _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(hi, d), m));
    }
}

AVX512 static void q5_0_avx512(const unsigned char *src, size_t blocks, float *y) {
    __m512i low = _mm512_set1_epi32(15), one = _mm512_set1_epi32(1), sixteen = _mm512_set1_epi32(16);
    __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t b = 0; b < blocks; b++, src += 22, y += 32) {
        __m512 d = _mm512_set1_ps(half_at(src));
        uint32_t bits;
        memcpy(&bits, src + 2, 4);
        __m512i qh = _mm512_set1_epi32((int)bits);
        __m512i q = U8X16(src + 6);
        __m512i h0 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(qh, lanes), one), 4);
        __m512i h1 = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(qh, _mm512_add_epi32(lanes, sixteen)), one), 4);
        __m512i lo = _mm512_sub_epi32(_mm512_or_si512(_mm512_and_si512(q, low), h0), sixteen);
        __m512i hi = _mm512_sub_epi32(_mm512_or_si512(_mm512_srli_epi32(q, 4), h1), sixteen);
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
    }
}

AVX512 static void k4_chunk_avx512(const unsigned char *q, const unsigned char *qh, int c, float d1, float m1, float d2,
                                   float m2, float *out) {
    __m512i low = _mm512_set1_epi32(15), one = _mm512_set1_epi32(1);
    __m128i shift1 = _mm_cvtsi32_si128(2 * c), shift2 = _mm_cvtsi32_si128(2 * c + 1);
    __m512 vd1 = _mm512_set1_ps(d1), vm1 = _mm512_set1_ps(m1), vd2 = _mm512_set1_ps(d2), vm2 = _mm512_set1_ps(m2);
    for (int g = 0; g < 2; g++) {
        __m512i v = U8X16(q + 16 * g);
        __m512i lo = _mm512_and_si512(v, low), hi = _mm512_srli_epi32(v, 4);
        if (qh) {
            __m512i h = U8X16(qh + 16 * g);
            lo = _mm512_add_epi32(lo, _mm512_slli_epi32(_mm512_and_si512(_mm512_srl_epi32(h, shift1), one), 4));
            hi = _mm512_add_epi32(hi, _mm512_slli_epi32(_mm512_and_si512(_mm512_srl_epi32(h, shift2), one), 4));
        }
        _mm512_storeu_ps(out + 16 * g, _mm512_sub_ps(_mm512_mul_ps(vd1, _mm512_cvtepi32_ps(lo)), vm1));
        _mm512_storeu_ps(out + 32 + 16 * g, _mm512_sub_ps(_mm512_mul_ps(vd2, _mm512_cvtepi32_ps(hi)), vm2));
    }
}

AVX512 static void q6_k_half_avx512(const unsigned char *ql, const unsigned char *qh, const int8_t *sc, float d, float *out) {
    __m512i low = _mm512_set1_epi32(15), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
    for (int s = 0; s < 2; s++) {   // elements 16s..16s+15 of each quarter: sub-block s
        __m512i a = U8X16(ql + 16 * s), b = U8X16(ql + 32 + 16 * s), h = U8X16(qh + 16 * s);
        __m512i q1 = _mm512_or_si512(_mm512_and_si512(a, low), _mm512_slli_epi32(_mm512_and_si512(h, three), 4));
        __m512i q2 = _mm512_or_si512(_mm512_and_si512(b, low), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), three), 4));
        __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), three), 4));
        __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(b, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 6), three), 4));
        __m512i qs[4] = {q1, q2, q3, q4};
        for (int k = 0; k < 4; k++) {
            __m512 scale = _mm512_set1_ps(d * (float)sc[s + 2 * k]);
            _mm512_storeu_ps(out + 32 * k + 16 * s, _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(qs[k], bias))));
        }
    }
}

K_BLOCKS(avx2, k4_chunk_avx2, q6_k_half_avx2)
K_BLOCKS(avx512, k4_chunk_avx512, q6_k_half_avx512)

#define BLOCKS_SELECT(name, src, blocks, y)                                                                  \
    switch (tk_kernel_path()) {                                                                              \
    case TK_PATH_AVX512: name##_avx512((const unsigned char *)(src), blocks, y); return;                     \
    case TK_PATH_AVX2: name##_avx2((const unsigned char *)(src), blocks, y); return;                         \
    default: name##_scalar((const unsigned char *)(src), blocks, y); return;                                 \
    }
#else
#define BLOCKS_SELECT(name, src, blocks, y) name##_scalar((const unsigned char *)(src), blocks, y);
#endif

void tk_q8_0_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q8_0, src, blocks, y) }
void tk_q4_0_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q4_0, src, blocks, y) }
void tk_q4_1_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q4_1, src, blocks, y) }
void tk_q5_0_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q5_0, src, blocks, y) }
void tk_q4_k_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q4_k, src, blocks, y) }
void tk_q5_k_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q5_k, src, blocks, y) }
void tk_q6_k_blocks(const void *src, size_t blocks, float *y) { BLOCKS_SELECT(q6_k, src, blocks, y) }
