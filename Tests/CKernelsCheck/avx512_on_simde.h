// The AVX-512 block-format kernels on a CPU without AVX-512: ggml_blocks_check.c built with
// -DTK_AVX512_ON_SIMDE and `-include` of this file compiles the kernels' AVX-512 code against
// SIMDe's portable implementations of the same intrinsics (Debian's libsimde-dev), so that
// AVX-512 path is checked bit for bit against the scalar and AVX2 paths on every x86 CI machine.
// The intrinsic names and vector types the kernels use are redirected to SIMDe's by macros
// (defined after <immintrin.h>, so the compiler's own declarations stay as they are);
// ggml_blocks.c then builds its AVX512 functions for AVX2 (see TK_AVX512_ON_SIMDE there).
// (kernels.c's AVX-512 code needs intrinsics SIMDe 0.7.4 lacks: masked loads and stores,
// extractf32x8, cvtps_pd; it is checked on AVX-512 machines only.)
// A kernel that uses an intrinsic missing here does not compile in this build (the compiler's
// own needs AVX-512 enabled), so the list cannot silently fall behind.
#include <immintrin.h>
#include <string.h>
#include <simde/x86/avx512.h>

// Conversions SIMDe 0.7.4 lacks, element by element as the instructions define them.
static inline simde__m512 tk_simde_cvtepi32_ps(simde__m512i a) {
    simde__m512i_private a_ = simde__m512i_to_private(a);
    simde__m512_private r_;
    for (int i = 0; i < 16; i++) r_.f32[i] = (float)a_.i32[i];   // rounds to nearest even, as vcvtdq2ps
    return simde__m512_from_private(r_);
}
// Sixteen bytes widened to sixteen int32 lanes, zero- (uint8_t) or sign-extended (int8_t).
#define TK_SIMDE_WIDEN_BYTES(name, byte)                       \
    static inline simde__m512i name(__m128i a) {               \
        byte b[16];                                            \
        memcpy(b, &a, 16);                                     \
        simde__m512i_private r_;                               \
        for (int i = 0; i < 16; i++) r_.i32[i] = b[i];         \
        return simde__m512i_from_private(r_);                  \
    }
TK_SIMDE_WIDEN_BYTES(tk_simde_cvtepu8_epi32, uint8_t)
TK_SIMDE_WIDEN_BYTES(tk_simde_cvtepi8_epi32, int8_t)

#define __m512 simde__m512
#define __m512i simde__m512i
#define _mm512_add_epi32 simde_mm512_add_epi32
#define _mm512_add_ps simde_mm512_add_ps
#define _mm512_and_si512 simde_mm512_and_si512
#define _mm512_cvtepi32_ps tk_simde_cvtepi32_ps
#define _mm512_cvtepi8_epi32 tk_simde_cvtepi8_epi32
#define _mm512_cvtepu8_epi32 tk_simde_cvtepu8_epi32
#define _mm512_mul_ps simde_mm512_mul_ps
#define _mm512_or_si512 simde_mm512_or_si512
#define _mm512_set1_epi32 simde_mm512_set1_epi32
#define _mm512_set1_ps simde_mm512_set1_ps
#undef _mm512_setr_epi32   // the compiler's is a macro
#define _mm512_setr_epi32 simde_mm512_setr_epi32
#define _mm512_slli_epi32 simde_mm512_slli_epi32
#define _mm512_srl_epi32 simde_mm512_srl_epi32
#define _mm512_srli_epi32 simde_mm512_srli_epi32
#define _mm512_srlv_epi32 simde_mm512_srlv_epi32
#define _mm512_storeu_ps simde_mm512_storeu_ps
#define _mm512_sub_epi32 simde_mm512_sub_epi32
#define _mm512_sub_ps simde_mm512_sub_ps
