// A reproducible random stream keyed by (seed, name): SplitMix64 seeded with the FNV-1a hash of
// the seed and a tensor name. Replicated tensors then start identical on every rank (the rank
// never enters the key), and one tensor's values do not depend on which others exist or on their
// order. Swift's `Hasher` is randomized per process, so it cannot be used here.

import Foundation
import LlamaModel

/// SplitMix64 over a state derived from a seed and a name.
public struct NamedRandomStream: Sendable {
    private var state: UInt64

    /// The stream for `name` under `seed`.
    public init(seed: UInt64, name: String) {
        state = Self.fnv1a(seed: seed, name: name)
    }

    /// FNV-1a (64-bit) over the seed's 8 little-endian bytes, then the name's UTF-8 bytes.
    static func fnv1a(seed: UInt64, name: String) -> UInt64 {
        namedStreamKey(seed: seed, name: name)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [−bound, bound).
    public mutating func nextUniform(bound: Double) -> Double { (2 * nextUnit() - 1) * bound }

    /// Standard normal by Box–Muller (one value per two uniforms, no cached spare, so the
    /// n-th value depends only on the key and n).
    public mutating func nextGaussian() -> Double {
        let u1 = 1 - nextUnit()  // (0, 1]: log stays finite
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
