// PEFT's initial values (`LoraLayer.reset_lora_parameters`), drawn from a stream keyed by the
// seed and the tensor's PEFT name only, so every rank and every run gets the same values.

import Kernels

extension LoRAAdapter {
    /// Overwrites every factor with its initial value and zeroes the gradients.
    ///
    /// - `kaimingUniform`: `A` ~ U(−1/√in, 1/√in) (torch's `kaiming_uniform_` with a = √5:
    ///   bound = √(6 / ((1 + a²) · fan_in)) = 1/√in); `B` = 0.
    /// - `gaussian`: `A` ~ N(0, σ = 1/r); `B` = 0.
    /// - `linearDefault`: `A` as above, `B` ~ U(−1/√r, 1/√r) (`nn.Linear(r, out)` default).
    public func initialize(seed: UInt64) {
        let r = config.r
        for f in factors {
            // A fused module's later parts hold the first part's A, drawn once.
            if f.target.sharesA {
                if config.initLoRAWeights == .linearDefault {
                    Self.fillUniform(f.b, bound: 1 / Double(r).squareRoot(), seed: seed, name: f.target.trainableBName)
                } else {
                    f.b.zero()
                }
                continue
            }
            switch config.initLoRAWeights {
            case .kaimingUniform:
                Self.fillUniform(f.a, bound: 1 / Double(f.target.inFeatures).squareRoot(), seed: seed, name: f.target.loraAName)
                f.b.zero()
            case .gaussian:
                var stream = NamedRandomStream(seed: seed, name: f.target.loraAName)
                let std = 1 / Double(r)
                for i in 0..<f.a.count { f.a[i] = Float(stream.nextGaussian() * std) }
                f.b.zero()
            case .linearDefault:
                Self.fillUniform(f.a, bound: 1 / Double(f.target.inFeatures).squareRoot(), seed: seed, name: f.target.loraAName)
                Self.fillUniform(f.b, bound: 1 / Double(r).squareRoot(), seed: seed, name: f.target.trainableBName)
            }
        }
        zeroGradients()
    }

    private static func fillUniform(_ buffer: FloatBuffer, bound: Double, seed: UInt64, name: String) {
        var stream = NamedRandomStream(seed: seed, name: name)
        for i in 0..<buffer.count { buffer[i] = Float(stream.nextUniform(bound: bound)) }
    }
}
