// The adapter's tensors: for every target, the factors A [r, in] and B [out, r] and their
// gradients, each one owned FloatBuffer allocated up front. Gradients accumulate (+=) and are
// zeroed explicitly (docs/architecture.md §7).
// Legend: r = rank, in/out = the wrapped linear's input/output features.

import Kernels
import LlamaModel

/// The two factors of one wrapped module and their gradients.
public struct LoRAFactors: Sendable {
    /// The module these factors adapt.
    public let target: LoRATarget
    /// `A` // [r, in]
    public let a: FloatBuffer
    /// `B` // [out, r]
    public let b: FloatBuffer
    /// `∂L/∂A` // [r, in]
    public let gradA: FloatBuffer
    /// `∂L/∂B` // [out, r]
    public let gradB: FloatBuffer

    init(target: LoRATarget, rank r: Int) {
        self.target = target
        a = FloatBuffer(count: r * target.inFeatures)
        b = FloatBuffer(count: target.outFeatures * r)
        gradA = FloatBuffer(count: r * target.inFeatures)
        gradB = FloatBuffer(count: target.outFeatures * r)
    }

    /// A later part of a fused module: `first`'s A and gradient (the same buffers), its own B.
    init(target: LoRATarget, rank r: Int, sharingAWith first: LoRAFactors) {
        self.target = target
        a = first.a
        gradA = first.gradA
        b = FloatBuffer(count: target.outFeatures * r)
        gradB = FloatBuffer(count: target.outFeatures * r)
    }
}

/// One PEFT module of an adapter: its A, and the targets whose Bs it stacks (one, or the parts
/// of a fused module in order).
public struct PEFTModule: Sendable {
    public let aName: String
    public let bName: String
    public let parts: [LoRAFactors]
    /// `[r, in]` and its gradient (shared by the parts).
    public var a: FloatBuffer { parts[0].a }
    public var gradA: FloatBuffer { parts[0].gradA }
    /// Rows of the stacked B.
    public var outFeatures: Int { parts.reduce(0) { $0 + $1.target.outFeatures } }
    public var inFeatures: Int { parts[0].target.inFeatures }
}

/// A LoRA adapter for a Llama model: configuration, targets and tensors.
public final class LoRAAdapter: Sendable {
    /// The validated configuration.
    public let config: LoRAConfig
    /// The wrapped modules, layer by layer in PEFT order.
    public let targets: [LoRATarget]
    /// One entry per target, same order.
    public let factors: [LoRAFactors]
    private let index: [LoRATarget.Key: Int]

    /// Rank `r`.
    public var rank: Int { config.r }
    /// `alpha / r` (or `alpha / √r`).
    public var scaling: Double { config.scaling }

    /// A freshly initialised adapter for `model`: factors per `config.initLoRAWeights`, drawn from
    /// a stream keyed by `seed` and each tensor's PEFT name; gradients zero.
    public convenience init(config: LoRAConfig, model: LlamaConfig, seed: UInt64) throws {
        let config = config.resolved(for: model)   // saved as PEFT reads it (Phi-3: qkv_proj)
        try self.init(config: config, targets: config.targets(for: model))
        initialize(seed: seed)
    }

    /// An adapter with all tensors zero, for `targets` (which must be distinct).
    public init(config: LoRAConfig, targets: [LoRATarget]) throws {
        try config.validate()
        self.config = config
        self.targets = targets
        var factors: [LoRAFactors] = []
        for target in targets {
            if target.sharesA {
                // The first part of its fused module comes before it (PEFT order): share its A.
                guard let first = factors.last(where: { $0.target.layer == target.layer && $0.target.fused == target.fused && !$0.target.sharesA }) else {
                    throw LoRAError.invalidConfig("module \(target.fullName) (\(target.module.rawValue) rows) is adapted without its first part; a fused module is adapted whole")
                }
                factors.append(LoRAFactors(target: target, rank: config.r, sharingAWith: first))
            } else {
                factors.append(LoRAFactors(target: target, rank: config.r))
            }
        }
        self.factors = factors
        var index: [LoRATarget.Key: Int] = [:]
        for (position, target) in targets.enumerated() {
            guard index.updateValue(position, forKey: target.key) == nil else {
                throw LoRAError.invalidConfig("module \(target.fullName) is targeted twice")
            }
        }
        self.index = index
    }

    /// The factors of `module` in `layer`, or `nil` when it is not targeted.
    public func factors(layer: Int, module: LinearModule) -> LoRAFactors? {
        index[LoRATarget.Key(layer: layer, module: module)].map { factors[$0] }
    }

    /// Sets every gradient to zero (call before the first micro-batch of a step).
    public func zeroGradients() {
        for f in factors {
            f.gradA.zero()
            f.gradB.zero()
        }
    }

    /// Every tensor, per target A then B (PEFT order), held whole (no tensor parallelism). A
    /// fused module's parts after the first add their B only (their A is the first part's).
    public var tensors: [TrainableTensor] {
        factors.flatMap { f in
            (f.target.sharesA ? [] : [TrainableTensor(name: f.target.loraAName, layer: f.target.layer, value: f.a, gradient: f.gradA,
                                                      fullShape: [rank, f.target.inFeatures], splitDimension: 1)])
            + [TrainableTensor(name: f.target.trainableBName, layer: f.target.layer, value: f.b, gradient: f.gradB,
                               fullShape: [f.target.outFeatures, rank], splitDimension: 0)]
        }
    }

    /// The adapter's PEFT modules in order: a fused module's parts grouped under its names.
    public var peftModules: [PEFTModule] {
        var out: [PEFTModule] = []
        for f in factors {
            if f.target.sharesA, let last = out.last, last.parts[0].a === f.a {
                out[out.count - 1] = PEFTModule(aName: last.aName, bName: last.bName, parts: last.parts + [f])
            } else {
                out.append(PEFTModule(aName: f.target.loraAName, bName: f.target.loraBName, parts: [f]))
            }
        }
        return out
    }

    /// PEFT's tensors `(name, shape, values)` in order, A then B per module, a fused module's B
    /// its parts' rows stacked; with `gradients`, the gradients in the same layout.
    public func peftTensors(gradients: Bool = false) -> [(name: String, shape: [Int], values: [Float])] {
        peftModules.flatMap { m -> [(name: String, shape: [Int], values: [Float])] in
            [(m.aName, [rank, m.inFeatures], (gradients ? m.gradA : m.a).array),
             (m.bName, [m.outFeatures, rank], m.parts.flatMap { (gradients ? $0.gradB : $0.b).array })]
        }
    }

    /// Trainable parameters: `Σ r · (in + out)`.
    public var trainableParameterCount: Int {
        targets.reduce(0) { $0 + $1.parameterCount(rank: config.r) }
    }
}

extension LoRATarget {
    /// Lookup key: one adapter per (layer, module).
    struct Key: Hashable, Sendable {
        let layer: Int
        let module: LinearModule
    }

    var key: Key { Key(layer: layer, module: module) }
}
