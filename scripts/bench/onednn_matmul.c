/* oneDNN suitability check for Tessera's frozen linears (issue 22: bf16 through Intel AMX).
 *
 * Built and run by scripts/bench_onednn.sh (oneDNN 2.x C API, dnnl.h; Debian: apt-get install libdnnl-dev).
 * Per shape, dst f32 [M,N] = src bf16 [M,K] x weights bf16 [K,N], on one thread, in GFLOP/s (2·M·K·N / time):
 *   (a) matmul only: weights already bf16 in the layout oneDNN prefers (weights format_tag any);
 *   (b) reorder fp32 W -> that bf16 layout on every call, then the matmul: Tessera's data flow, where the NF4
 *       weight is dequantized to fp32 afresh each step, so the layout conversion is paid every call. Two source
 *       layouts: W stored [N,K] row-major (out x in, as in GGUF and PyTorch) and [K,N] row-major;
 *   (c) as (b) from [N,K], plus the fp32 -> bf16 conversion of the activations (Tessera's activations are fp32);
 *   f32: oneDNN's own fp32 matmul on the plain layouts, for reference.
 * A shape with N over --tile is split into column tiles of --tile (each with its own primitives and fp32 tile
 * buffer, as a tiled dequantization would hand them over); the GFLOP/s counts the whole product.
 *
 *   onednn_matmul [--m 1024] [--tile 1820] [--seconds 0.3] [--rounds 3] [K N ...]   default shapes: SmolLM2-135M
 */
#include <dnnl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if DNNL_VERSION_MAJOR >= 3
#error "onednn_matmul.c uses the oneDNN 2.x C API (dnnl_matmul_desc_init); build it against oneDNN 2.x (Debian 12: libdnnl-dev 2.6)"
#endif

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        dnnl_status_t s_ = (call);                                                                  \
        if (s_ != dnnl_success) {                                                                   \
            fprintf(stderr, "onednn_matmul: %s failed: status %d (line %d)\n", #call, (int)s_, __LINE__); \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static double min_seconds = 0.3;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void md2(dnnl_memory_desc_t *md, int64_t d0, int64_t d1, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {d0, d1};
    CHECK(dnnl_memory_desc_init_by_tag(md, 2, dims, dt, tag));
}

static dnnl_memory_t mem(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    return m;
}

static void fill(dnnl_memory_t m, unsigned seed) {   /* small random values, whatever the data type */
    const dnnl_memory_desc_t *md;
    void *p;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    CHECK(dnnl_memory_get_data_handle(m, &p));
    size_t bytes = dnnl_memory_desc_get_size(md);
    if (md->data_type == dnnl_f32) {
        float *f = p;
        for (size_t i = 0; i < bytes / 4; i++) f[i] = (float)((rand_r(&seed) % 2001) - 1000) / 4096.0f;
    } else {                                         /* bf16: the upper half of an fp32 */
        uint16_t *h = p;
        for (size_t i = 0; i < bytes / 2; i++) {
            float v = (float)((rand_r(&seed) % 2001) - 1000) / 4096.0f;
            uint32_t u;
            memcpy(&u, &v, 4);
            h[i] = (uint16_t)(u >> 16);
        }
    }
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch ((int)isa) {
    case 0x3e7: return "avx512_core_amx";
    case 0xe7: return "avx512_core_bf16";
    case 0x67: return "avx512_core_vnni";
    case 0x27: return "avx512_core";
    case 0x407: return "avx2_vnni";
    case 0x7: return "avx2";
    default: return "other";
    }
}

static const char *impl(const_dnnl_primitive_desc_t pd) {
    const char *s = "?";
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s));
    return s;
}

/* A blocked 2-D layout in oneDNN's notation over dims a = K, b = N: outer strides, then the inner blocks,
   e.g. "strides a:64 b:36864, inner 16a64b2a" (the bf16 AMX weight layout; see oneDNN's memory format docs). */
static void describe_layout(const dnnl_memory_desc_t *md, char *buf, size_t n) {
    if (md->format_kind != dnnl_blocked) {
        snprintf(buf, n, "format kind %d", (int)md->format_kind);
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int k = snprintf(buf, n, "strides a:%lld b:%lld", (long long)b->strides[0], (long long)b->strides[1]);
    if (b->inner_nblks > 0) k += snprintf(buf + k, n - k, ", inner ");
    for (int i = 0; i < b->inner_nblks && k < (int)n; i++)
        k += snprintf(buf + k, n - k, "%lld%c", (long long)b->inner_blks[i], 'a' + (int)b->inner_idxs[i]);
}

static dnnl_primitive_t prim(const_dnnl_primitive_desc_t pd) {
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pd));
    return p;
}

static void exec2(dnnl_primitive_t p, int a1, dnnl_memory_t m1, int a2, dnnl_memory_t m2) {
    dnnl_exec_arg_t args[2] = {{a1, m1}, {a2, m2}};
    CHECK(dnnl_primitive_execute(p, stream, 2, args));
}

static void exec3(dnnl_primitive_t p, dnnl_memory_t src, dnnl_memory_t wei, dnnl_memory_t dst) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    CHECK(dnnl_primitive_execute(p, stream, 3, args));
}

/* One column tile of the product: all the primitives and buffers the variants need. */
typedef struct {
    int64_t n;
    dnnl_primitive_t mm, mm_f32, w_nk, w_kn, x_cvt;
    dnnl_memory_t src, src_f32, w_pref, w_f32_nk, w_f32_kn, w_f32_plain, dst;
    const char *mm_impl, *mm_f32_impl, *w_nk_impl, *w_kn_impl;
    char w_layout[128];
    int pref_is_plain;
} tile_t;

static void tile_init(tile_t *t, int64_t M, int64_t K, int64_t N, dnnl_memory_t src, dnnl_memory_t src_f32,
                      dnnl_primitive_t x_cvt) {
    dnnl_memory_desc_t s_md, w_any, d_md, w_md_nk, w_md_kn, sf_md, wf_md, w_plain_bf16;
    t->n = N;
    t->src = src;
    t->src_f32 = src_f32;
    t->x_cvt = x_cvt;
    md2(&s_md, M, K, dnnl_bf16, dnnl_ab);
    md2(&w_any, K, N, dnnl_bf16, dnnl_format_tag_any);
    md2(&d_md, M, N, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    CHECK(dnnl_matmul_desc_init(&d, &s_md, &w_any, NULL, &d_md));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL));
    t->mm_impl = strdup(impl(pd));
    const dnnl_memory_desc_t *w_pref_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    md2(&w_plain_bf16, K, N, dnnl_bf16, dnnl_ab);
    t->pref_is_plain = dnnl_memory_desc_equal(w_pref_md, &w_plain_bf16);
    describe_layout(w_pref_md, t->w_layout, sizeof t->w_layout);
    t->w_pref = mem(w_pref_md);
    t->dst = mem(&d_md);
    t->mm = prim(pd);

    /* fp32 W -> preferred bf16 layout, from [N,K] row-major (tag ba over dims K,N) and from [K,N] row-major. */
    md2(&w_md_nk, K, N, dnnl_f32, dnnl_ba);
    md2(&w_md_kn, K, N, dnnl_f32, dnnl_ab);
    t->w_f32_nk = mem(&w_md_nk);
    t->w_f32_kn = mem(&w_md_kn);
    fill(t->w_f32_nk, 7);
    fill(t->w_f32_kn, 7);
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &w_md_nk, engine, w_pref_md, engine, NULL));
    t->w_nk_impl = strdup(impl(rpd));
    t->w_nk = prim(rpd);
    CHECK(dnnl_primitive_desc_destroy(rpd));
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &w_md_kn, engine, w_pref_md, engine, NULL));
    t->w_kn_impl = strdup(impl(rpd));
    t->w_kn = prim(rpd);
    CHECK(dnnl_primitive_desc_destroy(rpd));
    exec2(t->w_nk, DNNL_ARG_FROM, t->w_f32_nk, DNNL_ARG_TO, t->w_pref);
    CHECK(dnnl_primitive_desc_destroy(pd));

    /* fp32 reference: src f32 [M,K] ab x W f32 [K,N] from [N,K] row-major (ba) -> dst f32. */
    md2(&sf_md, M, K, dnnl_f32, dnnl_ab);
    md2(&wf_md, K, N, dnnl_f32, dnnl_ba);
    CHECK(dnnl_matmul_desc_init(&d, &sf_md, &wf_md, NULL, &d_md));
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL));
    t->mm_f32_impl = strdup(impl(pd));
    t->mm_f32 = prim(pd);
    t->w_f32_plain = t->w_f32_nk;
    CHECK(dnnl_primitive_desc_destroy(pd));
}

enum { V_MATMUL, V_REORDER_NK, V_REORDER_KN, V_REORDER_NK_SRC, V_F32, V_COUNT };
static const char *variant_names[V_COUNT] = {"(a) bf16 matmul", "(b) +W reorder from [N,K] f32",
                                             "(b') +W reorder from [K,N] f32", "(c) (b)+src f32->bf16",
                                             "f32 matmul (ref)"};

static void run_once(tile_t *tiles, int ntiles, int v) {
    if (v == V_REORDER_NK_SRC) exec2(tiles[0].x_cvt, DNNL_ARG_FROM, tiles[0].src_f32, DNNL_ARG_TO, tiles[0].src);
    for (int i = 0; i < ntiles; i++) {
        tile_t *t = &tiles[i];
        if (v == V_REORDER_NK || v == V_REORDER_NK_SRC) exec2(t->w_nk, DNNL_ARG_FROM, t->w_f32_nk, DNNL_ARG_TO, t->w_pref);
        if (v == V_REORDER_KN) exec2(t->w_kn, DNNL_ARG_FROM, t->w_f32_kn, DNNL_ARG_TO, t->w_pref);
        if (v == V_F32) exec3(t->mm_f32, t->src_f32, t->w_f32_plain, t->dst);
        else exec3(t->mm, t->src, t->w_pref, t->dst);
    }
    CHECK(dnnl_stream_wait(stream));
}

/* Seconds per call: the best of the per-call means of groups of calls, each group at least min_seconds / 5 long
   (at least one call). main interleaves the variants over several rounds and keeps each variant's best, so a
   burst of load from a neighbour on the host slows one group, not one variant. */
static double time_variant(tile_t *tiles, int ntiles, int v) {
    run_once(tiles, ntiles, v);                      /* warm-up */
    double best = 1e30;
    for (int g = 0; g < 5; g++) {
        double t0 = now(), t;
        int calls = 0;
        do {
            run_once(tiles, ntiles, v);
            calls++;
            t = now() - t0;
        } while (t < min_seconds / 5);
        if (t / calls < best) best = t / calls;
    }
    return best;
}

int main(int argc, char **argv) {
    int64_t M = 1024, tile = 1820;
    int rounds = 3;
    int64_t shapes[64][2];
    int nshapes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--m") && i + 1 < argc) M = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--tile") && i + 1 < argc) tile = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) min_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (i + 1 < argc && nshapes < 64 && atoll(argv[i]) > 0) {
            shapes[nshapes][0] = atoll(argv[i]);
            shapes[nshapes][1] = atoll(argv[++i]);
            nshapes++;
        } else {
            fprintf(stderr, "usage: onednn_matmul [--m M] [--tile T] [--seconds S] [--rounds R] [K N ...]\n");
            return 2;
        }
    }
    if (nshapes == 0) {   /* SmolLM2-135M: q/o 576x576, k/v 576x192, gate/up 576x1536, down 1536x576, head 576x49152 */
        int64_t def[5][2] = {{576, 576}, {576, 192}, {576, 1536}, {1536, 576}, {576, 49152}};
        memcpy(shapes, def, sizeof def);
        nshapes = 5;
    }

    const dnnl_version_t *ver = dnnl_version();
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const char *threads = getenv("OMP_NUM_THREADS");
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    printf("oneDNN %d.%d.%d (%s), cpu runtime %s, OMP_NUM_THREADS=%s, effective ISA %s (0x%x)\n", ver->major,
           ver->minor, ver->patch, ver->hash, ver->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
           threads ? threads : "(unset)", isa_name(isa), (unsigned)isa);
    printf("M = %lld; GFLOP/s = 2*M*K*N / seconds per call; bf16 src/weights, f32 dst; best of %d interleaved rounds"
           " of 5 groups of >= %.2f s / 5;\n[rounds xF]: the slowest round's time over the best (F well above 1: the"
           " host was busy, rerun)\n\n", (long long)M, rounds, min_seconds);

    for (int s = 0; s < nshapes; s++) {
        int64_t K = shapes[s][0], N = shapes[s][1];
        int ntiles = (int)((N + tile - 1) / tile);
        tile_t *tiles = calloc(ntiles, sizeof *tiles);
        dnnl_memory_desc_t s_md, sf_md;
        md2(&s_md, M, K, dnnl_bf16, dnnl_ab);
        md2(&sf_md, M, K, dnnl_f32, dnnl_ab);
        dnnl_memory_t src = mem(&s_md), src_f32 = mem(&sf_md);
        fill(src_f32, 3);
        dnnl_primitive_desc_t xpd;
        CHECK(dnnl_reorder_primitive_desc_create(&xpd, &sf_md, engine, &s_md, engine, NULL));
        dnnl_primitive_t x_cvt = prim(xpd);
        char *x_impl = strdup(impl(xpd));
        CHECK(dnnl_primitive_desc_destroy(xpd));
        exec2(x_cvt, DNNL_ARG_FROM, src_f32, DNNL_ARG_TO, src);
        for (int i = 0; i < ntiles; i++) {
            int64_t n = (i + 1) * tile <= N ? tile : N - i * tile;
            tile_init(&tiles[i], M, K, n, src, src_f32, x_cvt);
        }
        printf("K %lld x N %lld", (long long)K, (long long)N);
        if (ntiles > 1)
            printf(" in %d tiles (%lld of %lld, last %lld)", ntiles, (long long)(N / tile), (long long)tile,
                   (long long)tiles[ntiles - 1].n);
        printf("\n  matmul impl: %s (bf16), %s (f32)\n  oneDNN's preferred bf16 weight layout (a = K, b = N): %s%s\n",
               tiles[0].mm_impl, tiles[0].mm_f32_impl, tiles[0].pref_is_plain ? "plain [K,N] row-major, " : "",
               tiles[0].w_layout);
        if (ntiles > 1 && strcmp(tiles[ntiles - 1].mm_impl, tiles[0].mm_impl))
            printf("  last tile's matmul impl: %s\n", tiles[ntiles - 1].mm_impl);
        printf("  reorder impl: W %s (from [N,K] f32), %s (from [K,N] f32); src f32->bf16 %s\n", tiles[0].w_nk_impl,
               tiles[0].w_kn_impl, x_impl);
        double flop = 2.0 * M * K * N, best[V_COUNT], worst[V_COUNT];
        for (int v = 0; v < V_COUNT; v++) best[v] = 1e30, worst[v] = 0;
        for (int r = 0; r < rounds; r++)
            for (int v = 0; v < V_COUNT; v++) {
                double t = time_variant(tiles, ntiles, v);
                if (t < best[v]) best[v] = t;
                if (t > worst[v]) worst[v] = t;
            }
        for (int v = 0; v < V_COUNT; v++) {
            double t = best[v], extra = t - best[V_MATMUL];
            printf("  %-32s %8.1f GFLOP/s  %8.3f ms/call  [rounds x%.2f]", variant_names[v], flop / t / 1e9, t * 1e3,
                   worst[v] / t);
            if (v != V_MATMUL && v != V_F32) printf("  (%+.3f ms over (a), %.0f%% of the call)", extra * 1e3,
                                                    100 * extra / t);
            printf("\n");
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
