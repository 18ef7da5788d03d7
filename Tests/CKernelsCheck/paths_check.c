// Bit-for-bit check of CKernels' paths (scalar, AVX2 + FMA, AVX-512), in C, without Swift:
// every kernel on every path this CPU runs, on random and edge-case inputs (NaN-free; large and
// small magnitudes; exp's range edges; lengths that are not multiples of 8 or 16), the scalar
// FMA emulation against the instruction, and each kernel on exact-size heap buffers (build with
// -fsanitize=address to catch any access past the end). It includes kernels.c for its statics.
//
//   cc=clang   # or gcc
//   $cc -O2 -mf16c -ISources/CKernels -ISources/CKernels/include Tests/CKernelsCheck/paths_check.c -lm -o paths_check && ./paths_check
//   $cc -O1 -g -mf16c -fsanitize=address,undefined -ISources/CKernels -ISources/CKernels/include Tests/CKernelsCheck/paths_check.c -lm -o paths_check_asan && ./paths_check_asan
//
// With -DTK_OLD_KERNELS and an object of an earlier kernels.c whose tk_* symbols are renamed
// old_tk_* (objcopy --redefine-syms), it also checks that results did not change: element-wise
// kernels on every path, and everything on the AVX-512 path (run once as is and once with
// TESSERA_KERNELS=scalar, which the old object reads).
#include "kernels.c"

#if defined(TK_OLD_KERNELS)
int old_tk_simd_enabled(void);
float old_tk_max(const float *x, size_t n);
double old_tk_exp_sum(float *out, const float *x, size_t n, float shift);
void old_tk_scale(float *x, size_t n, float s);
float old_tk_softmax_row(float *x, size_t n);
void old_tk_softmax_row_backward(float *dx, const float *dy, const float *y, size_t n);
void old_tk_swiglu(float *out, const float *gate, const float *up, size_t n);
void old_tk_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);
void old_tk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows, size_t channels, float eps);
void old_tk_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *weight, const float *rstd, size_t rows, size_t channels);
void old_tk_rope_row(float *row, size_t heads, size_t headDim, const float *cosRow, const float *sinRow, int inverse);
void old_tk_nf4_block(const unsigned char *bytes, float scale, const float *code, float *out);
float old_tk_exp(float x);
#endif

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next64(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static float uni(void) { return (float)((next64() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1,1)
static float u32f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static long failures = 0, checks = 0;
static int samebits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }
#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; if (failures < 40) { printf("FAIL %s:%d ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)

// Input distributions (NaN-free).
enum { D_UNIT, D_WIDE, D_LARGE, D_SMALL, D_MIXED, D_EXPEDGE, D_COUNT };
static const char *dname[] = {"unit", "wide", "large", "small", "mixed", "expedge"};
static float sample(int d) {
    switch (d) {
    case D_UNIT: return uni();
    case D_WIDE: return uni() * 100.0f;
    case D_LARGE: return uni() * 1e18f;
    case D_SMALL: return uni() * 1e-18f;
    case D_MIXED: { float e = (float)(int)(uni() * 30); return uni() * powf(10.0f, e); }
    default: { // values around exp's edges and zeros
        static const float edge[] = {0.0f, -0.0f, -87.33654f, -87.3365f, -87.34f, -87.3f, 88.72283f, 88.7228f, 88.73f, 88.7f,
                                     -103.0f, 100.0f, 1e-30f, -1e-30f, 0.5f, -0.5f, 1e-45f, 0.34657359f, -0.34657359f};
        int i = (int)(next64() % (sizeof edge / sizeof edge[0]));
        return edge[i] + ((next64() & 3) == 0 ? uni() * 1e-4f : 0.0f);
    }
    }
}
static void fill(float *x, size_t n, int d) { for (size_t i = 0; i < n; i++) x[i] = sample(d); }

static const size_t lens[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 129, 576, 1000, 1537, 4099};
#define NL (sizeof lens / sizeof lens[0])
#define MAXN 8192

static int paths[3], npaths;

static void test_exp(void) {
    // every float in a strided sweep plus random values, through exp_sum with out (all paths) vs scalar exp
    static float x[MAXN], o[3][MAXN];
    for (int d = 0; d < D_COUNT; d++) for (int rep = 0; rep < 20; rep++) {
        size_t n = lens[rep % NL] ; fill(x, n, d);
        double s[3];
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); for (int t = 0; t < 16; t++) o[p][n + t] = 7.0f; s[p] = tk_exp_sum(o[p], x, n, 0.25f);
            for (int t = 0; t < 16; t++) CHECK(o[p][n + t] == 7.0f, "exp_sum wrote past n"); }
        for (int p = 1; p < npaths; p++) {
            CHECK(samebits(o[0], o[p], n), "exp_sum out %s vs %s dist %s n %zu", tk_kernel_path_name(paths[0]), tk_kernel_path_name(paths[p]), dname[d], n);
            CHECK(memcmp(&s[0], &s[p], 8) == 0 || (s[0] != s[0] && s[p] != s[p]), "exp_sum sum %.17g vs %.17g %s n %zu", s[0], s[p], dname[d], n);
        }
        for (size_t i = 0; i < n; i++) CHECK(fbits(o[0][i]) == fbits(tk_exp(x[i] - 0.25f)), "exp elem");
        // no out
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); double t = tk_exp_sum(NULL, x, n, 0.25f); CHECK(memcmp(&t, &s[p], 8) == 0 || t != t, "exp_sum NULL out"); }
    }
#if defined(TK_OLD_KERNELS)
    // sweep of all floats with a stride, against the old exp
    long badold = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 97) {
        float v = u32f((uint32_t)u);
        if (v != v) continue;
        if (fbits(tk_exp(v)) != fbits(old_tk_exp(v))) badold++;
    }
    CHECK(badold == 0, "scalar exp differs from old scalar exp on %ld inputs", badold);
#endif
    // all paths over a dense sweep of [-104, 104]
    for (int p = 1; p < npaths; p++) {
        long diff = 0;
        static float xs[4096], a[4096], b[4096];
        for (int blk = 0; blk < 2000; blk++) {
            for (int i = 0; i < 4096; i++) xs[i] = -104.0f + 208.0f * ((float)(blk * 4096 + i) / (2000.0f * 4096.0f));
            tk_set_kernel_path(paths[0]); tk_exp_sum(a, xs, 4096, 0);
            tk_set_kernel_path(paths[p]); tk_exp_sum(b, xs, 4096, 0);
            if (!samebits(a, b, 4096)) diff++;
        }
        CHECK(diff == 0, "exp sweep %s differs in %ld blocks", tk_kernel_path_name(paths[p]), diff);
    }
}

static void test_reductions(void) {
    static float x[MAXN], y[MAXN], r[3][MAXN], w[MAXN];
    for (int d = 0; d < D_COUNT; d++) for (size_t li = 0; li < NL; li++) for (int rep = 0; rep < 3; rep++) {
        size_t n = lens[li];
        fill(x, n, d); fill(y, n, d == D_LARGE ? D_UNIT : d);
        float m[3], sm[3], dt[3];
        for (int p = 0; p < npaths; p++) {
            tk_set_kernel_path(paths[p]);
            m[p] = tk_max(x, n);
            memcpy(r[p], x, n * 4);
            sm[p] = tk_softmax_row(r[p], n);
            dt[p] = dot(x, y, n);
        }
        for (int p = 1; p < npaths; p++) {
            const char *pn = tk_kernel_path_name(paths[p]);
            CHECK(fbits(m[0]) == fbits(m[p]), "max %s %s n %zu: %g vs %g", pn, dname[d], n, m[0], m[p]);
            CHECK(fbits(sm[0]) == fbits(sm[p]) || (sm[0] != sm[0] && sm[p] != sm[p]), "softmax lse %s %s n %zu: %.9g vs %.9g", pn, dname[d], n, sm[0], sm[p]);
            CHECK(samebits(r[0], r[p], n), "softmax row %s %s n %zu", pn, dname[d], n);
            CHECK(fbits(dt[0]) == fbits(dt[p]) || (dt[0] != dt[0] && dt[p] != dt[p]), "dot %s %s n %zu: %.9g vs %.9g", pn, dname[d], n, dt[0], dt[p]);
        }
        // softmax backward (dy = x, y = softmax row)
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); tk_softmax_row_backward(w, y, r[0], n); memcpy(r[p == 0 ? 1 : 2], w, 0); if (p == 0) memcpy(x, w, n * 4); else CHECK(samebits(x, w, n), "softmax backward %s %s n %zu", tk_kernel_path_name(paths[p]), dname[d], n); }
        // scale
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); memcpy(r[p], y, n * 4); tk_scale(r[p], n, 1.7f); }
        for (int p = 1; p < npaths; p++) CHECK(samebits(r[0], r[p], n), "scale %s n %zu", tk_kernel_path_name(paths[p]), n);
    }
}

typedef void (*gated_forward)(float *, const float *, const float *, size_t);
typedef void (*gated_backward)(float *, float *, const float *, const float *, const float *, size_t);

// A gated activation (SwiGLU, GeGLU): every path bit-identical, forward and backward, in place too,
// nothing written past n.
static void test_gated(const char *name, gated_forward forward, gated_backward backward) {
    static float g[MAXN], u[MAXN], dy[MAXN], o[3][MAXN], dg[3][MAXN], du[3][MAXN];
    for (int d = 0; d < D_COUNT; d++) for (size_t li = 0; li < NL; li++) {
        size_t n = lens[li];
        fill(g, n, d); fill(u, n, D_UNIT); fill(dy, n, D_UNIT);
        for (int p = 0; p < npaths; p++) {
            tk_set_kernel_path(paths[p]);
            for (int t = 0; t < 16; t++) o[p][n + t] = dg[p][n + t] = du[p][n + t] = 12345.0f;
            forward(o[p], g, u, n);
            backward(dg[p], du[p], dy, g, u, n);
        }
        for (int p = 0; p < npaths; p++) for (int t = 0; t < 16; t++) CHECK(o[p][n + t] == 12345.0f && dg[p][n + t] == 12345.0f && du[p][n + t] == 12345.0f, "%s wrote past n", name);
        for (int p = 1; p < npaths; p++) {
            CHECK(samebits(o[0], o[p], n), "%s %s %s n %zu", name, tk_kernel_path_name(paths[p]), dname[d], n);
            CHECK(samebits(dg[0], dg[p], n) && samebits(du[0], du[p], n), "%s bwd %s %s n %zu", name, tk_kernel_path_name(paths[p]), dname[d], n);
        }
        // in place (out aliases gate)
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); memcpy(o[p], g, n * 4); forward(o[p], o[p], u, n); }
        for (int p = 1; p < npaths; p++) CHECK(samebits(o[0], o[p], n), "%s in place", name);
    }
}

static void test_swiglu(void) { test_gated("swiglu", tk_swiglu, tk_swiglu_backward); }

// GeGLU also against PyTorch's tanh GELU in double (the kernels use ½(1 + tanh y) = σ(2y)).
static void test_geglu(void) {
    test_gated("geglu", tk_geglu, tk_geglu_backward);
    static float g[MAXN], u[MAXN], o[MAXN];
    for (size_t li = 0; li < NL; li++) {
        size_t n = lens[li];
        fill(g, n, D_UNIT); fill(u, n, D_UNIT);
        tk_set_kernel_path(paths[0]);
        tk_geglu(o, g, u, n);
        for (size_t i = 0; i < n; i++) {
            double x = g[i], t = tanh(0.7978845608028654 * (x + 0.044715 * x * x * x));
            double ref = 0.5 * x * (1 + t) * u[i];
            CHECK(fabs(o[i] - ref) <= 1e-6 * (1 + fabs(ref)), "geglu vs tanh: g %g: %.9g vs %.9g", g[i], o[i], ref);
        }
    }
}

static void test_rmsnorm(void) {
    static float x[MAXN * 4], w[MAXN], dy[MAXN * 4], y[3][MAXN * 4], rs[3][8], dx[3][MAXN * 4];
    for (int d = 0; d < D_COUNT; d++) for (size_t li = 0; li < NL; li++) {
        size_t C = lens[li], rows = 3;
        if (C == 0) continue;
        fill(x, rows * C, d == D_LARGE ? D_MIXED : d); fill(w, C, D_UNIT); fill(dy, rows * C, D_UNIT);
        for (int p = 0; p < npaths; p++) {
            tk_set_kernel_path(paths[p]);
            tk_rmsnorm_forward(y[p], rs[p], x, w, rows, C, 1e-5f);
            tk_rmsnorm_backward(dx[p], dy, x, w, rs[p], rows, C);
        }
        for (int p = 1; p < npaths; p++) {
            CHECK(samebits(rs[0], rs[p], rows), "rmsnorm rstd %s %s C %zu: %.9g vs %.9g", tk_kernel_path_name(paths[p]), dname[d], C, rs[0][0], rs[p][0]);
            CHECK(samebits(y[0], y[p], rows * C), "rmsnorm y %s %s C %zu", tk_kernel_path_name(paths[p]), dname[d], C);
            CHECK(samebits(dx[0], dx[p], rows * C), "rmsnorm dx %s %s C %zu", tk_kernel_path_name(paths[p]), dname[d], C);
        }
    }
}

static void test_rope(void) {
    static float row[3][4 * 300], base[4 * 300], c[150], s[150];
    static const size_t dims[] = {2, 4, 14, 16, 30, 32, 34, 48, 64, 66, 128, 130, 256, 300};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) for (int inv = 0; inv < 2; inv++) for (int d = 0; d < D_COUNT; d++) {
        size_t hd = dims[di], heads = 4;
        fill(base, heads * hd, d); fill(c, hd / 2, D_UNIT); fill(s, hd / 2, D_UNIT);
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); memcpy(row[p], base, heads * hd * 4); tk_rope_row(row[p], heads, hd, c, s, inv); }
        for (int p = 1; p < npaths; p++) CHECK(samebits(row[0], row[p], heads * hd), "rope %s hd %zu inv %d", tk_kernel_path_name(paths[p]), hd, inv);
#if defined(TK_OLD_KERNELS)
        memcpy(row[1], base, heads * hd * 4); old_tk_rope_row(row[1], heads, hd, c, s, inv);
        CHECK(samebits(row[0], row[1], heads * hd), "rope vs old hd %zu", hd);
#endif
    }
}


static void test_quant(void) {
    static unsigned char buf[34 * 64];
    static float y[3][32 * 64], code[16];
    for (int i = 0; i < 16; i++) code[i] = uni();
    for (int rep = 0; rep < 200; rep++) {
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)next64();
        float scale = sample(rep % D_COUNT);
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); tk_nf4_block(buf, scale, code, y[p]); }
        for (int p = 1; p < npaths; p++) CHECK(samebits(y[0], y[p], 64), "nf4 %s", tk_kernel_path_name(paths[p]));
        for (int j = 0; j < 64; j++) CHECK(fbits(y[0][j]) == fbits(code[j & 1 ? buf[j / 2] & 15 : buf[j / 2] >> 4] * scale), "nf4 ref");
    }
}

// NF4 quantization: every path gives the same bytes and absmax as an independent reference
// (bitsandbytes' CPU rule), on random blocks, all-zero blocks, values on the decision midpoints
// (which take the lower code) and on ±absmax; a NaN or infinity reports its block, unwritten.
static void test_nf4_quantize(void) {
    static const unsigned int codebits[16] = {0xBF800000, 0xBF3239B1, 0xBF066B30, 0xBECA32A0, 0xBE91A24D, 0xBE3D353F,
        0xBDBA7871, 0x00000000, 0x3DA2FAFF, 0x3E24CAE3, 0x3E7C04DD, 0x3EAD033A, 0x3EE1A4B8, 0x3F1007AB, 0x3F3913B3, 0x3F800000};
    float code[16], mid[15];
    for (int i = 0; i < 16; i++) memcpy(&code[i], &codebits[i], 4);
    for (int i = 0; i < 15; i++) mid[i] = (code[i] + code[i + 1]) / 2;
    enum { B = 24 };
    static float x[64 * B], am[3][B];
    static unsigned char q[3][32 * B];
    for (int rep = 0; rep < 300; rep++) {
        int d = rep % D_COUNT;
        fill(x, 64 * B, d == D_EXPEDGE ? D_UNIT : d);
        for (int j = 0; j < 64; j++) x[64 * 1 + j] = 0.0f;                       // block 1: zeros
        for (int j = 0; j < 64; j++) x[64 * 2 + j] = mid[j % 15] * (j & 16 ? -1.0f : 1.0f);   // on midpoints, amax 1
        x[64 * 2 + 63] = 1.0f;
        x[64 * 3 + 5] = -x[64 * 3 + 9];                                           // ±the same magnitude
        long r[3];
        for (int p = 0; p < npaths; p++) { tk_set_kernel_path(paths[p]); r[p] = tk_nf4_quantize(x, B, mid, q[p], am[p]); }
        for (int p = 0; p < npaths; p++) {
            CHECK(r[p] == -1, "nf4 quantize %s reported block %ld", tk_kernel_path_name(paths[p]), r[p]);
            CHECK(memcmp(q[0], q[p], sizeof q[0]) == 0 && samebits(am[0], am[p], B), "nf4 quantize %s differs", tk_kernel_path_name(paths[p]));
        }
        for (int b = 0; b < B; b++) {
            float amax = 0;
            for (int j = 0; j < 64; j++) amax = fmaxf(amax, fabsf(x[64 * b + j]));
            CHECK(fbits(am[0][b]) == fbits(amax), "nf4 quantize absmax block %d", b);
            float rcp = 1.0f / fmaxf(amax, 1e-38f);
            for (int j = 0; j < 64; j++) {
                float t = fminf(fmaxf(x[64 * b + j] * rcp, -1.0f), 1.0f);
                int want = 0;
                while (want < 15 && mid[want] < t) want++;
                int got = j & 1 ? q[0][32 * b + j / 2] & 15 : q[0][32 * b + j / 2] >> 4;
                CHECK(got == want, "nf4 quantize code block %d elem %d: %d vs %d", b, j, got, want);
            }
        }
    }
    for (int kind = 0; kind < 3; kind++) {   // a NaN, +inf, -inf in block 5
        fill(x, 64 * B, D_UNIT);
        x[64 * 5 + 17] = kind == 0 ? NAN : (kind == 1 ? INFINITY : -INFINITY);
        for (int p = 0; p < npaths; p++) {
            tk_set_kernel_path(paths[p]);
            memset(q[p], 0xAB, sizeof q[p]);
            long r = tk_nf4_quantize(x, B, mid, q[p], am[p]);
            CHECK(r == 5, "nf4 quantize %s: non-finite kind %d reported at %ld", tk_kernel_path_name(paths[p]), kind, r);
            CHECK(q[p][32 * 5] == 0xAB, "nf4 quantize %s wrote the non-finite block", tk_kernel_path_name(paths[p]));
        }
    }
}

#if defined(TK_OLD_KERNELS)
// Old vs new: AVX-512 must be unchanged everywhere; scalar unchanged for element-wise kernels.
static void test_vs_old(void) {
    static float x[MAXN], y[MAXN], a[MAXN], b[MAXN], w[MAXN], rs1[4], rs2[4], c2[MAXN];
    int avx512 = tk_kernel_path_supported(TK_PATH_AVX512);
    for (int d = 0; d < D_COUNT; d++) for (size_t li = 0; li < NL; li++) {
        size_t n = lens[li];
        fill(x, n, d); fill(y, n, D_UNIT); fill(w, n, D_UNIT);
        int pth[2] = {TK_PATH_SCALAR, TK_PATH_AVX512};
        for (int k = 0; k < 2; k++) {
            int p = pth[k];
            if (p == TK_PATH_AVX512 && !avx512) continue;
            if (p == TK_PATH_AVX512 && !old_tk_simd_enabled()) continue;  // old path is process-wide; run once per env
            if (p == TK_PATH_SCALAR && old_tk_simd_enabled()) continue;
            tk_set_kernel_path(p);
            const char *pn = tk_kernel_path_name(p);
            tk_swiglu(a, x, y, n); old_tk_swiglu(b, x, y, n); CHECK(samebits(a, b, n), "old swiglu %s", pn);
            tk_swiglu_backward(a, c2, y, x, w, n); old_tk_swiglu_backward(b, c2 + 0, y, x, w, n);
            memcpy(a, x, n * 4); memcpy(b, x, n * 4); tk_scale(a, n, 3.1f); old_tk_scale(b, n, 3.1f); CHECK(samebits(a, b, n), "old scale %s", pn);
            CHECK(fbits(tk_max(x, n)) == fbits(old_tk_max(x, n)) || tk_max(x, n) == 0, "old max %s", pn);
            if (p == TK_PATH_AVX512) {
                double s1 = tk_exp_sum(a, x, n, 0.3f), s2 = old_tk_exp_sum(b, x, n, 0.3f);
                CHECK(samebits(a, b, n) && (memcmp(&s1, &s2, 8) == 0 || s1 != s1), "old exp_sum %s %s n %zu %.17g %.17g", pn, dname[d], n, s1, s2);
                memcpy(a, x, n * 4); memcpy(b, x, n * 4);
                float l1 = tk_softmax_row(a, n), l2 = old_tk_softmax_row(b, n);
                CHECK(samebits(a, b, n) && (fbits(l1) == fbits(l2) || l1 != l1), "old softmax %s n %zu", dname[d], n);
                tk_softmax_row_backward(c2, y, a, n); old_tk_softmax_row_backward(w, y, a, n);
                CHECK(samebits(c2, w, n), "old softmax bwd %s n %zu", dname[d], n);
                if (n > 0) {
                    fill(w, n, D_UNIT);
                    tk_rmsnorm_forward(a, rs1, x, w, 1, n, 1e-5f); old_tk_rmsnorm_forward(b, rs2, x, w, 1, n, 1e-5f);
                    CHECK(samebits(a, b, n) && fbits(rs1[0]) == fbits(rs2[0]), "old rmsnorm fwd %s n %zu", dname[d], n);
                    tk_rmsnorm_backward(a, y, x, w, rs1, 1, n); old_tk_rmsnorm_backward(b, y, x, w, rs1, 1, n);
                    CHECK(samebits(a, b, n), "old rmsnorm bwd %s n %zu", dname[d], n);
                }
            }
        }
    }
}

#endif

#if !defined(__FMA__)
static __attribute__((target("fma"))) float hw_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#endif

static inline float rnd_any(void) {
    uint32_t u = (uint32_t)next64();
    switch (next64() % 4) {
    case 0: return u32f(u);  // any bits
    case 1: return uni();
    case 2: return uni() * 1e-38f;
    default: return u32f((u & 0x807FFFFFu) | ((uint32_t)(100 + next64() % 60) << 23));
    }
}

static void test_fma_emulation(void) {
#if !defined(__FMA__)
    if (!__builtin_cpu_supports("fma")) { printf("(no FMA instruction to compare the emulation with)\n"); return; }
    long bad = 0;
    for (long i = 0; i < 20000000; i++) {
        float a = rnd_any(), b = rnd_any(), c;
        // c close to -a·b half the time, to exercise cancellation
        c = (i & 1) ? -(a * b) * (1.0f + uni() * 1e-6f) : rnd_any();
        float e = fma_f32(a, b, c), h = hw_fma(a, b, c);
        if (fbits(e) != fbits(h) && !(e != e && h != h)) { if (bad < 5) printf("fma mismatch %a %a %a: %a vs %a\n", a, b, c, e, h); bad++; }
    }
    CHECK(bad == 0, "fma emulation mismatches: %ld", bad);
#else
    printf("(built with FMA: fma_f32 is the instruction)\n");
#endif
}


// Exact-size heap buffers (run under -fsanitize=address to catch any access past the end) with
// every kernel on every path.
static float *fresh(size_t n, int d) { float *p = malloc((n ? n : 1) * sizeof(float)); fill(p, n, d); return p; }
static void test_bounds(void) {
    for (size_t li = 0; li < NL; li++) for (int pi = 0; pi < npaths; pi++) {
        size_t n = lens[li];
        tk_set_kernel_path(paths[pi]);
        float *x = fresh(n, D_UNIT), *y = fresh(n, D_UNIT), *z = fresh(n, D_UNIT), *o = fresh(n, D_UNIT), *o2 = fresh(n, D_UNIT);
        (void)tk_max(x, n); (void)tk_exp_sum(o, x, n, 0); (void)tk_exp_sum(NULL, x, n, 0); tk_scale(o, n, 2);
        (void)tk_softmax_row(o, n); tk_softmax_row_backward(o2, x, o, n); (void)dot(x, y, n);
        tk_swiglu(o, x, y, n); tk_swiglu_backward(o, o2, x, y, z, n);
        if (n) { float r[2]; float *x2 = fresh(2 * n, D_UNIT), *d2 = fresh(2 * n, D_UNIT), *o3 = fresh(2 * n, D_UNIT);
            tk_rmsnorm_forward(o3, r, x2, y, 2, n, 1e-5f); tk_rmsnorm_backward(o3, d2, x2, y, r, 2, n); free(x2); free(d2); free(o3); }
        if (n >= 2) { float *row = fresh(3 * 2 * (n / 2), D_UNIT); tk_rope_row(row, 3, 2 * (n / 2), x, y, 0); tk_rope_row(row, 3, 2 * (n / 2), x, y, 1); free(row); }
        free(x); free(y); free(z); free(o); free(o2);
    }
    for (size_t blocks = 1; blocks < 5; blocks++) for (int pi = 0; pi < npaths; pi++) {
        tk_set_kernel_path(paths[pi]);
        unsigned char *b = calloc(34 * blocks, 1); float *y = malloc(32 * blocks * 4), code[16] = {0};
        unsigned char *nb = calloc(32, 1); float *ny = malloc(64 * 4); tk_nf4_block(nb, 1, code, ny); free(nb); free(ny);
        free(b); free(y);
    }
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    for (int p = 0; p < 3; p++) if (tk_kernel_path_supported(p)) paths[npaths++] = p;
    printf("process path %s, cpu paths:", tk_kernel_path_name(tk_kernel_path()));
    for (int p = 0; p < npaths; p++) printf(" %s", tk_kernel_path_name(paths[p]));
    printf("\n");
    test_fma_emulation(); printf("fma done, %ld failures\n", failures);
#if defined(HAVE_SCALAR_FMA)
    // The scalar path twice: with the FMA instruction (when the CPU has it) and emulated.
    int modes = scalar_fma ? 2 : 1;
#else
    int modes = 1;
#endif
    for (int mode = 0; mode < modes; mode++) {
#if defined(HAVE_SCALAR_FMA)
        if (mode == 1) scalar_fma = 0;
        printf("scalar path with %s FMA\n", scalar_fma ? "the instruction's" : "emulated");
#endif
        test_exp(); printf("exp done, %ld failures\n", failures);
        test_reductions(); printf("reductions done, %ld failures\n", failures);
        test_swiglu(); test_geglu(); test_rmsnorm(); test_rope(); test_quant(); test_nf4_quantize(); printf("elementwise done, %ld failures\n", failures);
    }
#if defined(TK_OLD_KERNELS)
    test_vs_old();
#endif
    test_bounds();
    printf("%ld checks, %ld failures\n", checks, failures);
    return failures != 0;
}
