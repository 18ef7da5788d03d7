// Float -> Q4_K and Q6_K super-blocks, re-expressing ggml's reference quantizers
// (`quantize_row_q4_K_ref` / `quantize_row_q6_K_ref` with `make_qkx2_quants` / `make_qx_quants`,
// ggml-quants.c), which is what llama.cpp's `quantize` tool runs when no importance matrix is given.
// Every float operation keeps ggml's order and single rounding (no FMA), so the bytes can match.
//
// Q4_K: 8 sub-blocks of 32 get an affine fit (scale, min) by a weighted search over 21 candidate
// scales; the scales and mins are then themselves quantized to 6 bits against the super-block's
// d / dmin (fp16). Q6_K: 16 sub-blocks of 16 get a symmetric 6-bit fit (19 candidate scales,
// weights x^2), their scales quantized to int8 against d (fp16).

extension Dequantize {
    /// ggml's get_scale_min_k4: the 6-bit scale and min of sub-block `j` (0..<8).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (q[j] & 63, q[j + 4] & 63)
        }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Per-call scratch for the K-quant searches, allocated once per `Quantize.run` so the per-block
/// loops allocate nothing.
struct KQuantScratch {
    let levels: UnsafeMutablePointer<UInt8>     // 256 chosen levels
    let candidate: UnsafeMutablePointer<UInt8>  // 32 levels of the candidate being tried
    let weights: UnsafeMutablePointer<Float>    // 32
    let scales: UnsafeMutablePointer<Float>     // 16
    let mins: UnsafeMutablePointer<Float>       // 16

    static func with<R>(_ body: (KQuantScratch) throws -> R) rethrows -> R {
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 + 32)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 32 + 16 + 16)
        defer { bytes.deallocate(); floats.deallocate() }
        return try body(KQuantScratch(levels: bytes, candidate: bytes + 256, weights: floats,
                                      scales: floats + 32, mins: floats + 48))
    }
}

extension Quantize {
    /// ggml's `nearest_int`: the magic-number rounding (ties to even for |v| < 2^22), kept
    /// bit-for-bit, including what it gives outside that range, so degenerate blocks match too.
    @inline(__always)
    static func nearestInt(_ v: Float) -> Int32 {
        let shifted = v + 12_582_912
        return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    /// Q4_K [144]: d | dmin | 12 bytes of packed 6-bit scales and mins | 128 bytes of nibbles.
    static func q4_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ s: KQuantScratch) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let xj = x + 32 * j
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += xj[l] * xj[l] }
            let averageMagnitude = (sumX2 / 32).squareRoot()
            for l in 0..<32 { s.weights[l] = averageMagnitude + abs(xj[l]) }
            let fit = affineFit(32, 15, xj, s.weights, s.levels + 32 * j, s.candidate,
                                rmin: -1, rdelta: 0.1, steps: 20)
            s.scales[j] = fit.scale
            s.mins[j] = fit.min
            if fit.scale > maxScale { maxScale = fit.scale }
            if fit.min > maxMin { maxMin = fit.min }
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let packed = (out + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<8 {
            let ls = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(inverseScale * s.scales[j])))
            let lm = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(inverseMin * s.mins[j])))
            if j < 4 {
                packed[j] = ls
                packed[j + 4] = lm
            } else {
                packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                packed[j - 4] |= (ls >> 4) << 6
                packed[j] |= (lm >> 4) << 6
            }
        }
        storeHalf(maxScale / 63, out, 0)
        storeHalf(maxMin / 63, out, 2)
        // Requantize against the stored (rounded) scales, as the dequantizer will see them.
        let d = Dequantize.half(out, 0), dmin = Dequantize.half(out, 2)
        for j in 0..<8 {
            let (sc, m) = Dequantize.scaleMinK4(j, UnsafePointer(packed))
            let dj = d * Float(sc)
            if dj == 0 { continue }
            let mj = dmin * Float(m)
            for i in 0..<32 {
                let l = nearestInt((x[32 * j + i] + mj) / dj)
                s.levels[32 * j + i] = UInt8(Swift.max(0, Swift.min(15, l)))
            }
        }
        let q = (out + 16).assumingMemoryBound(to: UInt8.self)
        for chunk in 0..<4 {
            for l in 0..<32 {
                q[32 * chunk + l] = s.levels[64 * chunk + l] | (s.levels[64 * chunk + l + 32] << 4)
            }
        }
    }

    /// Q6_K [210]: ql (low nibbles) | qh (2 high bits) | int8 scales[16] | d.
    static func q6_K(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ s: KQuantScratch) {
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for block in 0..<16 {
            let scale = symmetricFit(16, 32, x + 16 * block, s.levels + 16 * block)
            s.scales[block] = scale
            if abs(scale) > maxAbsScale {
                maxAbsScale = abs(scale)
                maxScale = scale
            }
        }
        if maxAbsScale < groupMaxEpsilon {
            out.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale: Float = -128 / maxScale
        storeHalf(1 / iscale, out, 208)
        let sc = (out + 192).assumingMemoryBound(to: Int8.self)
        for block in 0..<16 {
            sc[block] = Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * s.scales[block])))
        }
        let d = Dequantize.half(out, 208)
        for j in 0..<16 {
            let dj = d * Float(sc[j])
            if dj == 0 { continue }
            for i in 0..<16 {
                let l = Swift.max(-32, Swift.min(31, nearestInt(x[16 * j + i] / dj)))
                s.levels[16 * j + i] = UInt8(l + 32)
            }
        }
        let L = s.levels
        for half in 0..<2 {
            let j = 128 * half
            let ql = (out + 64 * half).assumingMemoryBound(to: UInt8.self)
            let qh = (out + 128 + 32 * half).assumingMemoryBound(to: UInt8.self)
            for l in 0..<32 {
                ql[l] = (L[j + l] & 0x0F) | ((L[j + l + 64] & 0x0F) << 4)
                ql[l + 32] = (L[j + l + 32] & 0x0F) | ((L[j + l + 96] & 0x0F) << 4)
                qh[l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2)
                    | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6)
            }
        }
    }

    /// ggml's GROUP_MAX_EPS: below this absmax a group is treated as all zero.
    static let groupMaxEpsilon: Float = 1e-15

    /// `make_qkx2_quants` (use_mad false): levels 0...nmax for x ≈ scale·L - min, chosen by a
    /// weighted least-squares fit tried at `steps + 1` candidate inverse scales. Returns the
    /// scale and the (non-negative) min; `L` receives the levels.
    @inline(__always)
    static func affineFit(
        _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        _ L: UnsafeMutablePointer<UInt8>, _ candidate: UnsafeMutablePointer<UInt8>,
        rmin: Float, rdelta: Float, steps: Int
    ) -> (scale: Float, min: Float) {
        var lo = x[0], hi = x[0]
        var sumW = w[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            sumW += w[i]
            sumX += w[i] * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo {
            for i in 0..<n { L[i] = 0 }
            return (0, -lo)
        }
        let levels = Float(nmax)
        var iscale = levels / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - lo))))
            L[i] = UInt8(l)
            let diff = scale * Float(l) + lo - x[i]
            bestError += w[i] * (diff * diff)
        }
        for step in 0...steps {
            iscale = (rmin + rdelta * Float(step) + levels) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - lo))))
                candidate[i] = UInt8(l)
                let fl = Float(l)
                sumL += w[i] * fl
                sumL2 += w[i] * fl * fl
                sumXL += w[i] * fl * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(candidate[i]) + thisMin - x[i]
                error += w[i] * (diff * diff)
            }
            if error < bestError {
                for i in 0..<n { L[i] = candidate[i] }
                bestError = error
                scale = thisScale
                lo = thisMin
            }
        }
        return (scale, -lo)
    }

    /// `make_qx_quants` with rmse_type 1 and no importance weights: symmetric levels
    /// -nmax...nmax-1 (stored + nmax) fitted with weights x², trying 19 inverse scales.
    @inline(__always)
    static func symmetricFit(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>) -> Float {
        var extreme: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            extreme = x[i]
        }
        if amax < groupMaxEpsilon {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func level(_ iscale: Float, _ v: Float) -> Int32 {
            Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * v)))
        }
        var iscale = Float(-nmax) / extreme
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = level(iscale, x[i])
            L[i] = UInt8(l + nmax)
            let w = x[i] * x[i]
            sumLX += w * x[i] * Float(l)
            sumL2 += w * Float(l) * Float(l)
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / extreme
            sumLX = 0
            sumL2 = 0
            for i in 0..<n {
                let l = level(iscale, x[i])
                let w = x[i] * x[i]
                sumLX += w * x[i] * Float(l)
                sumL2 += w * Float(l) * Float(l)
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[i] = UInt8(level(iscale, x[i]) + nmax) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }
}
