// An int8 attention kernel for AVX-512 VNNI CPUs: an experiment, not part of paraseek.
//
// Used by benchmarks/attention_ceiling.py (by hand) to measure how fast the int8 model could get
// if OpenVINO's float attention were replaced by integer arithmetic. Per passage and head:
// Q, K and V are quantised to int8 with their own absolute maximum; Q K^T runs on vpdpbusd
// (Q offset by 128 to make it unsigned, corrected with K's row sums); the softmax runs in float
// on the valid tokens only and its output is rounded to 0..255 relative to the row's maximum;
// P V runs on vpdpbusd and is divided by the sum of the rounded weights. Padding tokens are
// skipped, not masked.
//
// q, k, v, out: float32 (batch, seq, heads * 32), row-major; lengths: tokens per passage.
// The (passage, head) pairs are shared among OpenMP threads. Returns 0, or -1 when seq is longer
// than MAXSEQ.
// Build: gcc -O3 -march=native -fopenmp -shared -fPIC int8_attention.c -o libint8attention.so
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#define DIM 32
#define MAXSEQ 512

static inline __m512 exp512(__m512 x) {
    // exp(x) for x <= 0, via 2^(x*log2e): integer part by scalef, fraction by polynomial.
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    __m512 fi = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, fi);
    __m512 p = _mm512_set1_ps(1.8775767e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(8.9893397e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5826318e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4015361e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9315308e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.9999994e-1f));
    return _mm512_scalef_ps(p, fi);
}

static float absmax(const float *x, int n, int stride) {
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * stride;
        m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(r)));
        m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(r + 16)));
    }
    return _mm512_reduce_max_ps(m);
}

// quantize 32 floats to int8 with 1/scale, returned as 32 bytes in a ymm
static inline __m256i q32(const float *r, __m512 inv) {
    __m512i a = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(r), inv));
    __m512i b = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(r + 16), inv));
    __m128i a8 = _mm512_cvtsepi32_epi8(a), b8 = _mm512_cvtsepi32_epi8(b);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(a8), b8, 1);
}


#define R 8
static void head(const float *q, const float *k, const float *v, float *out, int len, int stride,
                 float scale) {
    static __thread uint8_t qu[(MAXSEQ + R) * DIM] __attribute__((aligned(64)));
    static __thread int8_t kp[MAXSEQ * DIM] __attribute__((aligned(64)));
    static __thread int8_t vp[MAXSEQ * DIM] __attribute__((aligned(64)));
    static __thread int32_t ksum[MAXSEQ] __attribute__((aligned(64)));
    static __thread float sc[R][MAXSEQ] __attribute__((aligned(64)));
    static __thread uint8_t p8[R][MAXSEQ] __attribute__((aligned(64)));
    int nb = (len + 15) / 16, n16 = nb * 16, n4 = (len + 3) / 4;
    float sq = absmax(q, len, stride) / 127.f, sk = absmax(k, len, stride) / 127.f,
          sv = absmax(v, len, stride) / 127.f;
    sq = sq > 0 ? sq : 1;
    sk = sk > 0 ? sk : 1;
    sv = sv > 0 ? sv : 1;
    __m512 iq = _mm512_set1_ps(1 / sq), ik = _mm512_set1_ps(1 / sk), iv = _mm512_set1_ps(1 / sv);
    __m256i off = _mm256_set1_epi8((char)0x80);
    int32_t *kp32 = (int32_t *)kp;
    for (int i = 0; i < len; i++) {
        const float *qr = q + (size_t)i * stride, *kr = k + (size_t)i * stride;
        _mm256_store_si256((__m256i *)(qu + i * DIM), _mm256_xor_si256(q32(qr, iq), off));
        int32_t kb[8] __attribute__((aligned(32)));
        __m256i k8 = q32(kr, ik);
        _mm256_store_si256((__m256i *)kb, k8);
        __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), k8);  // u8*s8 pairs -> s16
        __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
        t = _mm_hadd_epi32(t, t); t = _mm_hadd_epi32(t, t);
        ksum[i] = _mm_cvtsi128_si32(t) * 128;
        int jb = i / 16, lane = i % 16;
        for (int c = 0; c < 8; c++) kp32[(jb * 8 + c) * 16 + lane] = kb[c];
    }
    for (int i = len; i < n16; i++) {
        ksum[i] = 0;
        for (int c = 0; c < 8; c++) kp32[((i / 16) * 8 + c) * 16 + i % 16] = 0;
    }
    for (int i0 = 0; i0 < n4 * 4; i0 += 4) {
        __m256i r[4];
        for (int j = 0; j < 4; j++)
            r[j] = i0 + j < len ? q32(v + (size_t)(i0 + j) * stride, iv) : _mm256_setzero_si256();
        __m256i abl = _mm256_unpacklo_epi8(r[0], r[1]), abh = _mm256_unpackhi_epi8(r[0], r[1]);
        __m256i cdl = _mm256_unpacklo_epi8(r[2], r[3]), cdh = _mm256_unpackhi_epi8(r[2], r[3]);
        __m256i x0 = _mm256_unpacklo_epi16(abl, cdl), x1 = _mm256_unpackhi_epi16(abl, cdl);
        __m256i x2 = _mm256_unpacklo_epi16(abh, cdh), x3 = _mm256_unpackhi_epi16(abh, cdh);
        __m256i *o = (__m256i *)(vp + i0 * DIM);
        _mm256_store_si256(o, _mm256_permute2x128_si256(x0, x1, 0x20));
        _mm256_store_si256(o + 1, _mm256_permute2x128_si256(x2, x3, 0x20));
        _mm256_store_si256(o + 2, _mm256_permute2x128_si256(x0, x1, 0x31));
        _mm256_store_si256(o + 3, _mm256_permute2x128_si256(x2, x3, 0x31));
    }
    __m512 fscale = _mm512_set1_ps(sq * sk * scale);
    for (int i0 = 0; i0 < len; i0 += R) {
        int rows = len - i0 < R ? len - i0 : R;
        for (int jb = 0; jb < nb; jb++) {
            __m512i kc[8];
            for (int c = 0; c < 8; c++) kc[c] = _mm512_load_si512(kp + (jb * 8 + c) * 64);
            __m512i ks = _mm512_load_si512(ksum + jb * 16);
            __m512i acc[R];
            for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();
            for (int c = 0; c < 8; c++)
                for (int r = 0; r < R; r++)
                    acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(((const int32_t *)(qu + (i0 + r) * DIM))[c]), kc[c]);
            for (int r = 0; r < R; r++)
                _mm512_store_ps(sc[r] + jb * 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], ks)), fscale));
        }
        int sums[R];
        for (int r = 0; r < R; r++) sums[r] = 1;
        __mmask16 tail = (__mmask16)((1u << (len - (nb - 1) * 16)) - 1);
        for (int r = 0; r < rows; r++) {
            __m512 m = _mm512_set1_ps(-INFINITY);
            for (int jb = 0; jb < nb - 1; jb++) m = _mm512_max_ps(m, _mm512_load_ps(sc[r] + jb * 16));
            m = _mm512_mask_max_ps(m, tail, m, _mm512_load_ps(sc[r] + (nb - 1) * 16));
            __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
            __m512i tot = _mm512_setzero_si512();
            for (int jb = 0; jb < nb; jb++) {
                __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(sc[r] + jb * 16), mx));
                __m512i e8 = _mm512_cvtps_epi32(_mm512_mul_ps(e, _mm512_set1_ps(255.f)));
                if (jb == nb - 1) e8 = _mm512_maskz_mov_epi32(tail, e8);
                tot = _mm512_add_epi32(tot, e8);
                _mm_store_si128((__m128i *)(p8[r] + jb * 16), _mm512_cvtusepi32_epi8(e8));
            }
            sums[r] = _mm512_reduce_add_epi32(tot);
        }
        __m512i lo[R], hi[R];
        for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm512_setzero_si512();
        for (int jc = 0; jc < n4; jc++) {
            __m512i vl = _mm512_load_si512(vp + jc * 128), vh = _mm512_load_si512(vp + jc * 128 + 64);
            for (int r = 0; r < R; r++) {
                __m512i b = _mm512_set1_epi32(((const int32_t *)p8[r])[jc]);
                lo[r] = _mm512_dpbusd_epi32(lo[r], b, vl);
                hi[r] = _mm512_dpbusd_epi32(hi[r], b, vh);
            }
        }
        for (int r = 0; r < rows; r++) {
            __m512 f = _mm512_set1_ps(sv / (float)sums[r]);
            float *o = out + (size_t)(i0 + r) * stride;
            _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(lo[r]), f));
            _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi[r]), f));
        }
    }
}

int attention(const float *q, const float *k, const float *v, float *out, int batch, int seq,
              int heads, const int *lengths, float scale) {
    if (seq > MAXSEQ) return -1;
    int width = heads * DIM;
    #pragma omp parallel for schedule(dynamic)
    for (int t = 0; t < batch * heads; t++) {
        int b = t / heads, h = t % heads;
        size_t o = (size_t)b * seq * width + h * DIM;
        head(q + o, k + o, v + o, out + o, lengths[b], width, scale);
    }
    return 0;
}
