// Element-wise kernels the Swift compiler cannot vectorise for this CPU: Swift builds for the
// x86-64 baseline (SSE2) and its SIMD min/max are scalar loops, so the exp-heavy passes of a
// training step (SiLU, softmax, cross-entropy) live here, with AVX-512 and AVX2 + FMA paths
// chosen at run time and a portable scalar path for other CPUs.
// `TESSERA_KERNELS=avx512|avx2|scalar` forces a path (one the CPU lacks falls back to the best
// it has, with a line on stderr).
//
// Every element-wise result is computed by the same formula whatever its position in a
// vector, so a value does not depend on where a row starts or how it is split across ranks.
// The three paths give bit-identical results, reductions included (16 lane sums in a fixed
// order, see kernels.c), so results do not depend on the CPU either.
#ifndef TESSERA_CKERNELS_H
#define TESSERA_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel paths: 0 scalar, 1 AVX2 + FMA, 2 AVX-512.
enum { TK_PATH_SCALAR = 0, TK_PATH_AVX2 = 1, TK_PATH_AVX512 = 2 };

/// The path in use on the calling thread (the process's unless tk_set_kernel_path overrode it).
int tk_kernel_path(void);

/// "scalar", "avx2" or "avx512" for a path number ("unknown" otherwise).
const char *tk_kernel_path_name(int path);

/// 1 when this CPU runs `path`.
int tk_kernel_path_supported(int path);

/// For tests: makes the calling thread use `path` (-1: the process's path again). Returns 1
/// when accepted, 0 (changing nothing) when the CPU lacks that path.
int tk_set_kernel_path(int path);

/// 1 when a vector path (AVX-512 or AVX2) is in use, 0 for the scalar one.
int tk_simd_enabled(void);

/// Largest element of x[0..<n] (-inf for n == 0; a zero maximum is +0); NaN-free inputs assumed.
float tk_max(const float *x, size_t n);

/// Σ exp(x[i] − shift) accumulated in double; when out is not NULL, also out[i] = exp(x[i] − shift)
/// (out may alias x).
double tk_exp_sum(float *out, const float *x, size_t n, float shift);

/// x[i] *= s.
void tk_scale(float *x, size_t n, float s);

/// In-place softmax of one row; returns log(Σ exp(x − max)) + max. The sum is fp32.
float tk_softmax_row(float *x, size_t n);

/// dx[i] = y[i] · (dy[i] − Σ_j dy[j]·y[j]) (softmax backward of one row); dx may alias dy.
void tk_softmax_row_backward(float *dx, const float *dy, const float *y, size_t n);

/// out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + exp(−g)); out may alias gate or up.
void tk_swiglu(float *out, const float *gate, const float *up, size_t n);

/// With σ = sigmoid(g): dgate = dout·up·σ·(1 + g·(1 − σ)), dup = dout·g·σ. dgate may alias gate
/// or dout, dup may alias up or dout (not dgate).
void tk_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);
/// GeGLU (PyTorch's tanh GELU, computed as g·σ(2β(g + κg³))): out = gelu(gate)·up, and its
/// backward as tk_swiglu's (same aliasing rules).
void tk_geglu(float *out, const float *gate, const float *up, size_t n);
void tk_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);

/// RMSNorm over `rows` rows of `channels`: r = 1/sqrt(Σx²/C + eps) (fp32 sum), y = (x·r)·w;
/// rstd[n] = r. out may alias inp.
void tk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                        size_t channels, float eps);

/// RMSNorm input gradient: dx = (r·w)·dy − (r³/C · Σ dy·w·x)·x per row. dinp may alias dout.
void tk_rmsnorm_backward(float *dinp, const float *dout, const float *inp, const float *weight,
                         const float *rstd, size_t rows, size_t channels);

/// Rotate-half RoPE of one token's `heads` heads of `headDim` (in place), with that position's
/// cos/sin rows (headDim/2 each): forward x1' = x1·c − x2·s, x2' = x2·c + x1·s; `inverse`
/// applies the transpose (the backward): x1' = x1·c + x2·s, x2' = x2·c − x1·s.
void tk_rope_row(float *row, size_t heads, size_t headDim, const float *cosRow, const float *sinRow, int inverse);

/// One bitsandbytes NF4 block of 64 values from its 32 packed bytes (high nibble first):
/// out[i] = code[nibble i] · scale, exactly as the scalar product in fp32.
void tk_nf4_block(const unsigned char *bytes, float scale, const float *code, float *out);
// NF4-quantizes `blocks` whole 64-blocks of `x` (bitsandbytes' CPU rule: absmax, x times the
// rounded reciprocal of max(absmax, 1e-38), clamped to [-1, 1], index = the 15 sorted `midpoints`
// strictly below) into `packed` (32 bytes per block, element 2k in the high nibble) and `absmax`.
// Returns the first block holding a NaN or infinity (that block is not written), else -1.
long tk_nf4_quantize(const float *x, size_t blocks, const float *midpoints, unsigned char *packed, float *absmax);

/// GGML block formats to fp32 (ggml_blocks.c): `blocks` whole blocks at src, 32 floats each for
/// Q8_0, Q4_0, Q4_1 and Q5_0, 256 for the K formats, with ggml's scalar formula on every path
/// (bit-identical across the three paths and with ggml's dequantize_row_*).
void tk_q8_0_blocks(const void *src, size_t blocks, float *y);
void tk_q4_0_blocks(const void *src, size_t blocks, float *y);
void tk_q4_1_blocks(const void *src, size_t blocks, float *y);
void tk_q5_0_blocks(const void *src, size_t blocks, float *y);
void tk_q4_k_blocks(const void *src, size_t blocks, float *y);
void tk_q5_k_blocks(const void *src, size_t blocks, float *y);
void tk_q6_k_blocks(const void *src, size_t blocks, float *y);

/// 1 when the CPU runs AVX512-BF16 (vdpbf16ps) and the AVX-512 path is in use.
int tk_bf16_available(void);

/// C[M, N] = A[M, K] · B[K, N] (+ C when beta is 1), A and B rounded to bf16 (nearest even),
/// products summed in fp32 with vdpbf16ps. B comes from W in the caller's layout:
/// transposedW = 1: B[k][n] = W[n·ldw + k] (y = x·Wᵀ); 0: B[k][n] = W[k·ldw + n] (dx = dy·W).
/// Requires tk_bf16_available(); the packed copies live in buffers the kernel keeps and grows.
void tk_bf16_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, size_t ldw,
                  int transposedW, float *c, size_t ldc, float beta);

/// 1 when this CPU has AMX tiles with bf16 products (AMX-TILE, AMX-BF16) and the OS granted the
/// process the tile state (Linux arch_prctl ARCH_REQ_XCOMP_PERM); asked once, cached.
int tk_amx_supported(void);

/// 1 when tk_amx_supported(), the AVX-512 path is in use and TESSERA_AMX is not 0 or off (read
/// once) unless the calling thread overrode that with tk_set_amx_enabled.
int tk_amx_available(void);

/// For tests: 0 turns the AMX products off on the calling thread (the bf16 products then use
/// AVX512-BF16), 1 on where supported, -1 back to the process's choice. Returns 0 (changing
/// nothing) when asked for 1 on a CPU or OS without AMX.
int tk_set_amx_enabled(int enabled);

/// uint32 values of B packed for AMX (pair-interleaved "VNNI" panels of 16 columns): N and K
/// rounded up to 32, K counted in pairs.
size_t tk_amx_b_panel_count(size_t n, size_t k);

/// Packs B[K, N] from fp32 W into `bp` (tk_amx_b_panel_count(n, k) values), rounded to bf16 as
/// tk_bf16_gemm rounds: transposedW = 1: B[k][j] = W[j·ldw + k]; 0: B[k][j] = W[k·ldw + j].
void tk_amx_pack_b_f32(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp);

/// Packs B from bitsandbytes NF4 without an fp32 copy: the weight is the row-major matrix whose
/// element e is code[nibble of flattened index first + e] · scales[(first + e)/64 − first/64]
/// (high nibble first), with rows of K (transposedW = 1, W[N, K]) or of N (0, W[K, N]). Each value
/// is the fp32 product, then rounded to bf16: the same as tk_amx_pack_b_f32 of the dequantized rows.
void tk_amx_pack_b_nf4(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                       const float *code, int transposedW, uint32_t *bp);

/// Pairs of 32 output columns of a packed B (and of the tile loop), the unit work is split by:
/// (N + 31) / 32. The *_pairs functions below do the columns [32·pairBegin, 32·pairEnd) only, so
/// threads can share one product; each zeroes and fills only its own panels.
void tk_amx_pack_b_f32_pairs(size_t n, size_t k, const float *w, size_t ldw, int transposedW, uint32_t *bp,
                             size_t pairBegin, size_t pairEnd);
void tk_amx_pack_b_nf4_pairs(size_t n, size_t k, const unsigned char *packed, size_t first, const float *scales,
                             const float *code, int transposedW, uint32_t *bp, size_t pairBegin, size_t pairEnd);

/// A[M, K] rounded to bf16 into the calling thread's buffer (rows of K rounded up to 32, M rounded
/// up to 32, zero padded); valid until the thread's next tk_amx_pack_a or AMX product.
const uint16_t *tk_amx_pack_a(size_t m, size_t k, const float *a, size_t lda);

/// The tile loop over the column pairs [pairBegin, pairEnd): C (+)= A · B for those columns, A
/// from tk_amx_pack_a (of any thread), B packed. Requires tk_amx_supported().
void tk_amx_tiles(size_t m, size_t n, size_t k, const uint16_t *ap, const uint32_t *bp, float *c, size_t ldc,
                  float beta, size_t pairBegin, size_t pairEnd);

/// C[M, N] = A[M, K] · B (+ C when beta is 1) on AMX tiles (tdpbf16ps, fp32 sums), B packed by a
/// tk_amx_pack_b_* function; A is rounded to bf16 into a buffer the calling thread keeps.
/// Requires tk_amx_supported().
void tk_amx_gemm_packed(size_t m, size_t n, size_t k, const float *a, size_t lda, const uint32_t *bp, float *c,
                        size_t ldc, float beta);

/// tk_amx_pack_b_f32 into the calling thread's B buffer, then tk_amx_gemm_packed: the contract of
/// tk_bf16_gemm on AMX.
void tk_amx_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *w, size_t ldw,
                 int transposedW, float *c, size_t ldc, float beta);

/// The calling thread's B buffer, grown to tk_amx_b_panel_count(n, k) values (NULL when out of
/// memory); valid until the thread's next tk_amx_gemm or tk_amx_b_scratch.
uint32_t *tk_amx_b_scratch(size_t n, size_t k);

/// Returns freed heap memory of every malloc arena to the kernel (glibc malloc_trim); 0 elsewhere.
int tk_release_free_heap(void);

/// exp(x), the kernels' own approximation (within 1 ulp of the exact value for normal results).
float tk_exp(float x);

#ifdef __cplusplus
}
#endif

#endif
