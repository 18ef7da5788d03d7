// LoRA hyper-parameters with PEFT's meaning (peft/tuners/lora/config.py), validated before any
// tensor is allocated. Decoding and encoding of `adapter_config.json` live in
// LoRAConfig+Codable.swift; module selection in LoRAConfig+Targets.swift.

import Foundation
import LlamaModel

/// Which linear modules get an adapter (PEFT `target_modules`).
public enum TargetModules: Sendable, Equatable {
    /// Module names matched by PEFT's suffix rule: an entry matches a module whose full name
    /// equals it or ends with `.` + entry (`q_proj`, `self_attn.q_proj`,
    /// `model.layers.0.self_attn.q_proj`).
    case names([String])
    /// Every linear module of every decoder layer (`"all-linear"`; never `lm_head`).
    case allLinear
    /// Any other string: a regular expression that must match the full module name.
    case regex(String)
}

/// How `A` and `B` start (PEFT `init_lora_weights`).
public enum LoRAInitialization: Sendable, Equatable {
    /// `true` (default): `A` Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in); `B` zero.
    case kaimingUniform
    /// `"gaussian"`: `A` ~ N(0, σ = 1/r) (PEFT passes `std=1/r`); `B` zero.
    case gaussian
    /// `false`: both factors keep `nn.Linear`'s default Kaiming-uniform init, so the adapter is
    /// not an identity at start (PEFT offers it for debugging).
    case linearDefault
}

/// A LoRA configuration: the fields of PEFT's `LoraConfig` that Tessera supports.
///
/// Features Tessera does not implement (DoRA, `modules_to_save`, bias training, rank and alpha
/// patterns, ...) are refused when decoding, with the offending key in the message.
public struct LoRAConfig: Sendable, Equatable {
    /// Rank `r` of the update `B·A`.
    public var r: Int
    /// `lora_alpha`: the update is scaled by `alpha / r` (or `alpha / √r` with rsLoRA).
    public var loraAlpha: Double
    /// Dropout probability applied to the adapter's input, in [0, 1).
    public var loraDropout: Double
    /// Which modules are wrapped.
    public var targetModules: TargetModules
    /// Restricts suffix-matched `target_modules` to these layer indices (`nil`: all layers).
    public var layersToTransform: [Int]?
    /// Rank-stabilised scaling `alpha / √r`.
    public var useRSLoRA: Bool
    /// Initial values of the factors.
    public var initLoRAWeights: LoRAInitialization
    /// Hugging Face id or path of the base model, written for `PeftModel.from_pretrained`.
    public var baseModelNameOrPath: String?
    /// Revision of the base model.
    public var revision: String?
    /// PEFT's `inference_mode` flag (true in saved adapters).
    public var inferenceMode: Bool
    /// PEFT version recorded in the file (the format Tessera mirrors when `nil` was read).
    public var peftVersion: String

    /// The PEFT release whose `adapter_config.json` layout this type mirrors.
    public static let mirroredPEFTVersion = "0.21.2"

    /// A configuration with PEFT's defaults for the fields not given.
    public init(r: Int = 8, loraAlpha: Double = 8, loraDropout: Double = 0,
                targetModules: TargetModules, layersToTransform: [Int]? = nil, useRSLoRA: Bool = false,
                initLoRAWeights: LoRAInitialization = .kaimingUniform, baseModelNameOrPath: String? = nil,
                revision: String? = nil, inferenceMode: Bool = false,
                peftVersion: String = LoRAConfig.mirroredPEFTVersion) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = loraDropout
        self.targetModules = targetModules
        self.layersToTransform = layersToTransform
        self.useRSLoRA = useRSLoRA
        self.initLoRAWeights = initLoRAWeights
        self.baseModelNameOrPath = baseModelNameOrPath
        self.revision = revision
        self.inferenceMode = inferenceMode
        self.peftVersion = peftVersion
    }

    /// The factor multiplying `B·A·x`: `alpha / r`, or `alpha / √r` with rsLoRA.
    /// (PyTorch multiplies an fp32 tensor by this Python float, so use `Float(scaling)`.)
    public var scaling: Double {
        useRSLoRA ? loraAlpha / Double(r).squareRoot() : loraAlpha / Double(r)
    }

    /// Checks every field; the message names the field and the accepted values.
    public func validate() throws {
        guard r > 0 else { throw LoRAError.invalidConfig("r must be a positive integer, got \(r)") }
        guard loraAlpha > 0, loraAlpha.isFinite else {
            throw LoRAError.invalidConfig("lora_alpha must be positive, got \(loraAlpha)")
        }
        guard loraDropout >= 0, loraDropout < 1 else {
            throw LoRAError.invalidConfig("lora_dropout must be in [0, 1), got \(loraDropout)")
        }
        switch targetModules {
        case .allLinear:
            break
        case .regex(let pattern):
            _ = try Self.compile(pattern)
        case .names(let names):
            guard !names.isEmpty else {
                throw LoRAError.invalidConfig("target_modules is empty; name at least one of \(LinearModule.namesList), or use \"all-linear\"")
            }
            for name in names {
                let last = name.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? name
                // Fused modules (Phi-3) are checked against the model in `targets(for:)`.
                guard LinearModule(rawValue: last) != nil || FusedProjection(rawValue: last) != nil else {
                    throw LoRAError.invalidConfig("target module '\(name)' is not a linear module of a Llama layer; valid names: \(LinearModule.namesList) (qkv_proj, gate_up_proj for Phi-3)")
                }
            }
        }
        if let layers = layersToTransform {
            if case .names = targetModules {} else {
                // PEFT's LoraConfig raises the same: layer filtering applies to suffix matches only.
                throw LoRAError.invalidConfig("layers_to_transform cannot be used when target_modules is a string (\"all-linear\" or a regex); list the module names instead")
            }
            if let bad = layers.first(where: { $0 < 0 }) {
                throw LoRAError.invalidConfig("layers_to_transform contains negative layer index \(bad)")
            }
        }
    }

    /// Compiles a `target_modules` regex (PEFT uses `re.fullmatch`).
    static func compile(_ pattern: String) throws -> Regex<AnyRegexOutput> {
        do { return try Regex(pattern) } catch {
            throw LoRAError.invalidConfig("target_modules regex '\(pattern)' does not compile: \(error)")
        }
    }
}
