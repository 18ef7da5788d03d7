// Bit-for-bit check of the GGML block formats (Sources/CKernels/ggml_blocks.c) on every path,
// in C, without Swift: each format's scalar, AVX2 and AVX-512 kernels (called directly, so a
// path the dispatcher would not pick is checked too) against an independent reference that
// computes each element on its own from ggml's formula, on random blocks with half scales of
// every magnitude (subnormal to 60000, both signs), plus exact-size heap buffers for ASan.
// It includes ggml_blocks.c for its statics and links kernels.c for the path dispatch.
//
//   cc=clang   # or gcc
//   $cc -O2 -mf16c -ISources/CKernels/include Tests/CKernelsCheck/ggml_blocks_check.c Sources/CKernels/kernels.c -lm -o blocks_check && ./blocks_check
//
// On a CPU without AVX-512 the AVX-512 kernels run on SIMDe's portable intrinsics (Debian's
// libsimde-dev; see avx512_on_simde.h), the build scripts/test.sh uses there:
//
//   $cc -O2 -mavx2 -mfma -mf16c -DTK_AVX512_ON_SIMDE -include Tests/CKernelsCheck/avx512_on_simde.h \
//       -ISources/CKernels/include Tests/CKernelsCheck/ggml_blocks_check.c Sources/CKernels/kernels.c -lm -o blocks_check
#include "../../Sources/CKernels/ggml_blocks.c"

#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next64(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static float uni(void) { return (float)((next64() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1,1)
static long failures = 0, checks = 0;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; if (failures < 40) { printf("FAIL %s:%d ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)

// The reference reads halves with F16C, not with ggml_blocks.c's bit manipulation.
__attribute__((target("f16c"))) static float h2f(const unsigned char *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }
__attribute__((target("f16c"))) static uint16_t f2h(float f) { return _cvtss_sh(f, 0); }

static void k4_scale_min(int j, const unsigned char *q, int *sc, int *m) {
    if (j < 4) { *sc = q[j] & 63; *m = q[j + 4] & 63; }
    else { *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}

enum { Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K, FORMATS };

static float ref_element(int format, const unsigned char *bl, int i) {
    switch (format) {
    case Q8_0: return (float)(int8_t)bl[2 + i] * h2f(bl);
    case Q4_0: { int q = i < 16 ? bl[2 + i] & 15 : bl[2 + i - 16] >> 4; return (float)(q - 8) * h2f(bl); }
    case Q4_1: { int q = i < 16 ? bl[4 + i] & 15 : bl[4 + i - 16] >> 4; return (float)q * h2f(bl) + h2f(bl + 2); }
    case Q5_0: {
        uint32_t qh; memcpy(&qh, bl + 2, 4);
        int q = (i < 16 ? bl[6 + i] & 15 : bl[6 + i - 16] >> 4) | (int)((qh >> i) & 1) << 4;
        return (float)(q - 16) * h2f(bl);
    }
    case Q4_K: case Q5_K: {   // sub-block i/32 of 32; chunk i/64 of qs holds sub-blocks 2c (low) and 2c+1 (high)
        int sub = i / 32, c = i / 64, l = i % 32, sc, m;
        k4_scale_min(sub, bl + 4, &sc, &m);
        const unsigned char *qs = bl + (format == Q4_K ? 16 : 48) + 32 * c;
        int q = sub % 2 == 0 ? qs[l] & 15 : qs[l] >> 4;
        if (format == Q5_K) q += ((bl[16 + l] >> sub) & 1) << 4;
        return h2f(bl) * (float)sc * (float)q - h2f(bl + 2) * (float)m;
    }
    default: {                // Q6_K: halves of 128, quarters of 32 within, sub-blocks of 16
        int h = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
        const unsigned char *ql = bl + 64 * h, *qh = bl + 128 + 32 * h;
        int byte = ql[l + 32 * (quarter & 1)], low = quarter < 2 ? byte & 15 : byte >> 4;
        int q = (low | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
        int8_t sc = (int8_t)bl[192 + 8 * h + l / 16 + 2 * quarter];
        return h2f(bl + 208) * (float)sc * (float)q;
    }
    }
}

typedef void (*blocks_fn)(const unsigned char *, size_t, float *);
static const struct { const char *name; size_t bytes, elements; blocks_fn path[3]; } formats[FORMATS] = {
#if defined(__x86_64__)
#define PATHS(f) {f##_scalar, f##_avx2, f##_avx512}
#else
#define PATHS(f) {f##_scalar, NULL, NULL}
#endif
    {"q8_0", 34, 32, PATHS(q8_0)}, {"q4_0", 18, 32, PATHS(q4_0)}, {"q4_1", 20, 32, PATHS(q4_1)},
    {"q5_0", 22, 32, PATHS(q5_0)}, {"q4_k", 144, 256, PATHS(q4_k)}, {"q5_k", 176, 256, PATHS(q5_k)},
    {"q6_k", 210, 256, PATHS(q6_k)}};

// A half scale: subnormal, large, or of ordinary size, either sign.
static void put_half(unsigned char *p, int rep, int isMin) {
    float v = rep % 11 == 0 ? 6e-6f * uni() : rep % 7 == 0 ? 60000.0f * uni() : uni() * (isMin ? 10.0f : (rep % 2 ? 1e-3f : 300.0f));
    uint16_t h = f2h(v);
    memcpy(p, &h, 2);
}

int main(void) {
    int runs[3] = {1, 0, 0};
    const char *how[3] = {"", "", ""};
#if defined(__x86_64__)
    __builtin_cpu_init();
    runs[1] = tk_kernel_path_supported(TK_PATH_AVX2);
    runs[2] = tk_kernel_path_supported(TK_PATH_AVX512);
#if defined(TK_AVX512_ON_SIMDE)
    runs[2] = runs[1];
    how[2] = " (on SIMDe)";
#endif
#endif
    printf("paths: scalar%s%s%s\n", runs[1] ? " avx2" : "", runs[2] ? " avx512" : "", how[2]);
    enum { MAXB = 24 };
    static unsigned char buf[210 * MAXB];
    static float y[256 * MAXB + 16], ref[256 * MAXB];
    for (int rep = 0; rep < 300; rep++)
        for (int f = 0; f < FORMATS; f++) {
            size_t blocks = 1 + (size_t)(rep + f) % MAXB, bytes = formats[f].bytes, n = formats[f].elements;
            for (size_t i = 0; i < bytes * blocks; i++) buf[i] = (unsigned char)next64();
            for (size_t b = 0; b < blocks; b++) {
                unsigned char *bl = buf + bytes * b;
                if (f == Q6_K) put_half(bl + 208, rep, 0);
                else { put_half(bl, rep, 0); if (f == Q4_1 || f == Q4_K || f == Q5_K) put_half(bl + 2, rep, 1); }
            }
            for (size_t b = 0; b < blocks; b++)
                for (size_t i = 0; i < n; i++) ref[n * b + i] = ref_element(f, buf + bytes * b, (int)i);
            for (int p = 0; p < 3; p++) {
                if (!runs[p]) continue;
                for (size_t i = 0; i < n * blocks + 16; i++) y[i] = 7.0f;
                formats[f].path[p](buf, blocks, y);
                CHECK(memcmp(ref, y, n * blocks * sizeof(float)) == 0, "%s %s%s, %zu blocks: differs from the reference",
                      formats[f].name, tk_kernel_path_name(p), how[p], blocks);
                CHECK(y[n * blocks] == 7.0f, "%s %s wrote past its blocks", formats[f].name, tk_kernel_path_name(p));
            }
        }
    // Exact-size heap buffers (build with -fsanitize=address to catch any access past the end).
    for (int f = 0; f < FORMATS; f++)
        for (size_t blocks = 1; blocks < 4; blocks++)
            for (int p = 0; p < 3; p++) {
                if (!runs[p]) continue;
                unsigned char *b = calloc(formats[f].bytes * blocks, 1);
                float *out = malloc(formats[f].elements * blocks * sizeof(float));
                formats[f].path[p](b, blocks, out);
                free(b);
                free(out);
            }
    // The public entry points dispatch to the process's path.
    for (int f = 0; f < FORMATS; f++) {
        void (*entry)(const void *, size_t, float *) = (void (*[])(const void *, size_t, float *)){
            tk_q8_0_blocks, tk_q4_0_blocks, tk_q4_1_blocks, tk_q5_0_blocks, tk_q4_k_blocks, tk_q5_k_blocks, tk_q6_k_blocks}[f];
        for (size_t i = 0; i < formats[f].bytes; i++) buf[i] = (unsigned char)next64();
        put_half(f == Q6_K ? buf + 208 : buf, 1, 0);
        entry(buf, 1, y);
        for (size_t i = 0; i < formats[f].elements; i++) ref[i] = ref_element(f, buf, (int)i);
        CHECK(memcmp(ref, y, formats[f].elements * sizeof(float)) == 0, "tk_%s_blocks", formats[f].name);
    }
    printf("%ld checks, %ld failures\n", checks, failures);
    return failures != 0;
}
