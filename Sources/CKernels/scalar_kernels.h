// The scalar kernels, included twice by kernels.c: SCALAR(name) names a function, SCALAR_ATTR
// gives its target attributes and FMA_F32 is its fused multiply-add (see kernels.c). Not a
// header of its own: it uses kernels.c's constants and helpers.

SCALAR_ATTR static inline float SCALAR(exp_f32)(float x) {
    if (x != x) return x;
    if (x < EXP_LO) return 0.0f;
    if (x > EXP_HI) return INFINITY;
    float n = round_nearest(x * LOG2E);
    // n·LN2_HI is exact (|n| <= 128 has 8 bits, LN2_HI 9), so the unfused x + n·(−LN2_HI) rounds
    // once, exactly as the FMA of the vector paths: one emulated FMA fewer.
    float r = x + n * -LN2_HI;
    r = FMA_F32(n, -LN2_LO, r);
    float p = P0;
    p = FMA_F32(p, r, P1);
    p = FMA_F32(p, r, P2);
    p = FMA_F32(p, r, P3);
    p = FMA_F32(p, r, P4);
    p = FMA_F32(p, r, P5);
    p = FMA_F32(p, r * r, r) + 1.0f;
    int ni = (int)n, n1 = ni >> 1;   // arithmetic shift: ⌊n/2⌋, as vpsrad
    return (p * pow2_f32(n1)) * pow2_f32(ni - n1);
}

SCALAR_ATTR static float SCALAR(max)(const float *x, size_t n) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
    return m + 0.0f;   // −0 → +0
}

SCALAR_ATTR static double SCALAR(exp_sum)(float *out, const float *x, size_t n, float shift) {
    double l[16] = {0};
    for (size_t i = 0; i < n; i++) {
        float e = SCALAR(exp_f32)(x[i] - shift);
        if (out) out[i] = e;
        l[i & 15] += e;
    }
    return tree16_f64(l);
}

SCALAR_ATTR static void SCALAR(scale)(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

SCALAR_ATTR static float SCALAR(dot)(const float *a, const float *b, size_t n) {
    float l[16] = {0};
    for (size_t i = 0; i < n; i++) l[i & 15] = FMA_F32(a[i], b[i], l[i & 15]);
    return tree16_f32(l);
}

SCALAR_ATTR static float SCALAR(sum_exp_f32)(float *x, size_t n, float shift) {
    float l[16] = {0};
    for (size_t i = 0; i < n; i++) { float e = SCALAR(exp_f32)(x[i] - shift); x[i] = e; l[i & 15] += e; }
    return tree16_f32(l);
}

SCALAR_ATTR static void SCALAR(swiglu)(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + SCALAR(exp_f32)(-g)) * up[i];
    }
}

SCALAR_ATTR static void SCALAR(swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate,
                                   const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], u = up[i], dy = dout[i];
        float sig = 1.0f / (1.0f + SCALAR(exp_f32)(-g));
        dgate[i] = dy * u * sig * (1.0f + g * (1.0f - sig));
        dup[i] = dy * (g * sig);
    }
}

// GeGLU with PyTorch's tanh GELU written as g·σ(z), z = 2β(g + κg³) (½(1 + tanh(y)) = σ(2y)).
SCALAR_ATTR static void SCALAR(geglu)(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float z = TK_GELU_2BETA * (g + TK_GELU_KAPPA * (g * (g * g)));
        out[i] = g / (1.0f + SCALAR(exp_f32)(-z)) * up[i];
    }
}

SCALAR_ATTR static void SCALAR(geglu_backward)(float *dgate, float *dup, const float *dout, const float *gate,
                                   const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], u = up[i], dy = dout[i];
        float z = TK_GELU_2BETA * (g + TK_GELU_KAPPA * (g * (g * g)));
        float s = 1.0f / (1.0f + SCALAR(exp_f32)(-z));
        // gelu'(g) = σ + g·σ(1 − σ)·2β(1 + 3κg²)
        float dz = TK_GELU_2BETA * (1.0f + TK_GELU_3KAPPA * (g * g));
        float d = s + (g * (s * (1.0f - s))) * dz;
        dgate[i] = (dy * u) * d;
        dup[i] = dy * (g * s);
    }
}

SCALAR_ATTR static void SCALAR(nf4_block)(const unsigned char *bytes, float scale, const float *code, float *out) {
    for (int j = 0; j < 32; j++) {
        out[2 * j] = code[bytes[j] >> 4] * scale;
        out[2 * j + 1] = code[bytes[j] & 15] * scale;
    }
}

// NF4 quantization of `blocks` whole 64-blocks (bitsandbytes' CPU rule): absmax, x times the
// rounded reciprocal, clamped to [-1, 1], the code index = midpoints strictly below. Returns the
// first block holding a non-finite value (nothing of it written), or -1.
SCALAR_ATTR static long SCALAR(nf4_quantize)(const float *x, size_t blocks, const float *mid, unsigned char *packed,
                                             float *absmax) {
    for (size_t b = 0; b < blocks; b++) {
        const float *v = x + 64 * b;
        float amax = 0;
        for (int j = 0; j < 64; j++) {
            if (!isfinite(v[j])) return (long)b;
            float a = fabsf(v[j]);
            amax = a > amax ? a : amax;
        }
        absmax[b] = amax;
        float r = 1.0f / (amax > 1e-38f ? amax : 1e-38f);
        for (int k = 0; k < 32; k++) {
            unsigned char q[2];
            for (int h = 0; h < 2; h++) {
                float t = v[2 * k + h] * r;
                t = t < -1.0f ? -1.0f : (t > 1.0f ? 1.0f : t);
                int i = 0;
                for (int m = 0; m < 15; m++) i += mid[m] < t;
                q[h] = (unsigned char)i;
            }
            packed[32 * b + k] = (unsigned char)(q[0] << 4 | q[1]);
        }
    }
    return -1;
}

SCALAR_ATTR static void SCALAR(rmsnorm_forward)(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                                   size_t channels, float eps) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels;
        float *y = out + n * channels;
        float l[16] = {0};
        for (size_t c = 0; c < channels; c++) l[c & 15] = FMA_F32(x[c], x[c], l[c & 15]);
        float r = 1.0f / sqrtf(tree16_f32(l) / (float)channels + eps);
        rstd[n] = r;
        for (size_t c = 0; c < channels; c++) y[c] = (x[c] * r) * weight[c];
    }
}

SCALAR_ATTR static void SCALAR(rmsnorm_backward)(float *dinp, const float *dout, const float *inp, const float *weight,
                                    const float *rstd, size_t rows, size_t channels) {
    for (size_t n = 0; n < rows; n++) {
        const float *x = inp + n * channels, *dy = dout + n * channels;
        float *dx = dinp + n * channels;
        float l[16] = {0}, r = rstd[n];
        for (size_t c = 0; c < channels; c++) l[c & 15] = FMA_F32(dy[c] * weight[c], x[c], l[c & 15]);
        float k = tree16_f32(l) * r * r * r / (float)channels;
        for (size_t c = 0; c < channels; c++) dx[c] = r * weight[c] * dy[c] - k * x[c];
    }
}

SCALAR_ATTR static void SCALAR(rope_row)(float *row, size_t heads, size_t headDim, const float *c, const float *s, int inverse) {
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
