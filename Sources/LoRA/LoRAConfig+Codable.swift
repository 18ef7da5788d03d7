// `adapter_config.json` with PEFT 0.21's exact keys. Decoding applies PEFT's defaults for
// missing keys, refuses options Tessera does not implement (naming the key), and validates.
// Encoding writes every key PEFT writes, sorted, so a saved file is deterministic and loads in
// `PeftModel.from_pretrained` unchanged.

import Foundation

extension LoRAConfig: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case r, bias, revision
        case loraAlpha = "lora_alpha", loraDropout = "lora_dropout", targetModules = "target_modules"
        case layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
        case useRSLoRA = "use_rslora", initLoRAWeights = "init_lora_weights"
        case modulesToSave = "modules_to_save", fanInFanOut = "fan_in_fan_out"
        case taskType = "task_type", peftType = "peft_type", peftVersion = "peft_version"
        case baseModelNameOrPath = "base_model_name_or_path", inferenceMode = "inference_mode"
        case aloraInvocationTokens = "alora_invocation_tokens", alphaPattern = "alpha_pattern"
        case arrowConfig = "arrow_config", autoMapping = "auto_mapping", cordaConfig = "corda_config"
        case ensureWeightTying = "ensure_weight_tying", evaConfig = "eva_config"
        case excludeModules = "exclude_modules", kasaConfig = "kasa_config"
        case layerReplication = "layer_replication", loftqConfig = "loftq_config", loraBias = "lora_bias"
        case loraGAConfig = "lora_ga_config", megatronConfig = "megatron_config", megatronCore = "megatron_core"
        case monteCLoRAConfig = "monteclora_config", qaloraGroupSize = "qalora_group_size"
        case rankPattern = "rank_pattern", targetParameters = "target_parameters"
        case trainableTokenIndices = "trainable_token_indices", useBDLoRA = "use_bdlora", useDoRA = "use_dora"
        case useQALoRA = "use_qalora", veloraConfig = "velora_config"
    }

    /// Keys that select features Tessera does not implement: they must be null, false or empty.
    private static let mustBeUnset: [CodingKeys] = [
        .aloraInvocationTokens, .alphaPattern, .arrowConfig, .cordaConfig, .ensureWeightTying, .evaConfig,
        .excludeModules, .fanInFanOut, .kasaConfig, .layerReplication, .loftqConfig, .loraBias, .loraGAConfig,
        .megatronConfig, .modulesToSave, .monteCLoRAConfig, .rankPattern, .targetParameters,
        .trainableTokenIndices, .useBDLoRA, .useDoRA, .useQALoRA, .veloraConfig,
    ]

    /// PEFT's default targets for Llama models when `target_modules` is absent.
    public static let defaultLlamaTargets = ["q_proj", "v_proj"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value(_ key: CodingKeys) throws -> JSONValue {
            do { return try c.decodeIfPresent(JSONValue.self, forKey: key) ?? .null } catch {
                throw LoRAError.invalidConfig("\(key.stringValue) is not valid JSON: \(error)")
            }
        }
        func wrongType(_ key: CodingKeys, _ expected: String, _ found: JSONValue) -> LoRAError {
            .invalidConfig("\(key.stringValue) must be \(expected), got \(found)")
        }
        func int(_ v: JSONValue, _ key: CodingKeys) throws -> Int {
            guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e15 else { throw wrongType(key, "an integer", v) }
            return Int(d)
        }
        func number(_ key: CodingKeys, default fallback: Double) throws -> Double {
            switch try value(key) {
            case .null: return fallback
            case .number(let d): return d
            case let other: throw wrongType(key, "a number", other)
            }
        }
        func bool(_ key: CodingKeys, default fallback: Bool) throws -> Bool {
            switch try value(key) {
            case .null: return fallback
            case .bool(let b): return b
            case let other: throw wrongType(key, "true or false", other)
            }
        }
        func string(_ key: CodingKeys) throws -> String? {
            switch try value(key) {
            case .null: return nil
            case .string(let s): return s
            case let other: throw wrongType(key, "a string or null", other)
            }
        }

        let peftType = try string(.peftType)
        guard peftType == "LORA" else {
            throw LoRAError.invalidConfig("peft_type must be \"LORA\", got \(try value(.peftType)); this is not a LoRA adapter")
        }
        if let task = try string(.taskType), task != "CAUSAL_LM" {
            throw LoRAError.invalidConfig("task_type must be \"CAUSAL_LM\" (or null), got \"\(task)\"")
        }
        let bias = try string(.bias) ?? "none"
        guard bias == "none" else {
            throw LoRAError.invalidConfig("bias \"\(bias)\" is not supported: Tessera trains no bias terms; set bias to \"none\"")
        }
        for key in Self.mustBeUnset {
            let v = try value(key)
            guard v.isUnset else {
                throw LoRAError.invalidConfig("\(key.stringValue) = \(v) is not supported by Tessera (plain LoRA only); remove it or set it to null")
            }
        }
        switch try value(.layersPattern) {
        case .null, .string("layers"), .string(""), .array([]), .array([.string("layers")]): break
        case let other: throw wrongType(.layersPattern, "null or \"layers\" (Llama's layer list)", other)
        }

        let rValue = try value(.r)
        let r = rValue == .null ? 8 : try int(rValue, .r)
        let targets: TargetModules
        switch try value(.targetModules) {
        case .null: targets = .names(Self.defaultLlamaTargets)
        case .string(let s): targets = s.lowercased() == "all-linear" ? .allLinear : .regex(s)
        case .array(let items):
            targets = .names(try items.map { item in
                guard case .string(let s) = item else { throw wrongType(.targetModules, "a list of module names", item) }
                return s
            })
        case let other: throw wrongType(.targetModules, "a list of module names or a string", other)
        }
        let layers: [Int]?
        switch try value(.layersToTransform) {
        case .null, .array([]): layers = nil
        case .number(let d): layers = [try int(.number(d), .layersToTransform)]
        case .array(let items): layers = try items.map { try int($0, .layersToTransform) }
        case let other: throw wrongType(.layersToTransform, "an integer or a list of integers", other)
        }
        let initialization: LoRAInitialization
        switch try value(.initLoRAWeights) {
        case .null, .bool(true): initialization = .kaimingUniform
        case .bool(false): initialization = .linearDefault
        case .string(let s) where s.lowercased() == "gaussian": initialization = .gaussian
        case let other:
            throw LoRAError.invalidConfig("init_lora_weights \(other) is not supported; use true (Kaiming-uniform A, zero B), \"gaussian\" or false")
        }

        self.init(r: r, loraAlpha: try number(.loraAlpha, default: 8), loraDropout: try number(.loraDropout, default: 0),
                  targetModules: targets, layersToTransform: layers, useRSLoRA: try bool(.useRSLoRA, default: false),
                  initLoRAWeights: initialization, baseModelNameOrPath: try string(.baseModelNameOrPath),
                  revision: try string(.revision), inferenceMode: try bool(.inferenceMode, default: false),
                  peftVersion: try string(.peftVersion) ?? Self.mirroredPEFTVersion)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for key in Self.mustBeUnset {
            switch key {
            case .alphaPattern, .rankPattern, .loftqConfig: try c.encode([String: Int](), forKey: key)
            case .fanInFanOut, .loraBias, .useDoRA, .useQALoRA, .ensureWeightTying: try c.encode(false, forKey: key)
            default: try c.encodeNil(forKey: key)
            }
        }
        try c.encodeNil(forKey: .autoMapping)
        try c.encodeNil(forKey: .layersPattern)
        try c.encode("megatron.core", forKey: .megatronCore)
        try c.encode(16, forKey: .qaloraGroupSize)
        try c.encode("none", forKey: .bias)
        try c.encode("CAUSAL_LM", forKey: .taskType)
        try c.encode("LORA", forKey: .peftType)
        try c.encode(peftVersion, forKey: .peftVersion)
        try c.encode(r, forKey: .r)
        // PEFT writes lora_alpha as the int it was given; keep integral values integral.
        if loraAlpha == loraAlpha.rounded(), abs(loraAlpha) < 1e15 {
            try c.encode(Int(loraAlpha), forKey: .loraAlpha)
        } else {
            try c.encode(loraAlpha, forKey: .loraAlpha)
        }
        try c.encode(loraDropout, forKey: .loraDropout)
        switch targetModules {
        case .names(let names): try c.encode(names, forKey: .targetModules)
        case .allLinear: try c.encode("all-linear", forKey: .targetModules)
        case .regex(let pattern): try c.encode(pattern, forKey: .targetModules)
        }
        try c.encode(layersToTransform, forKey: .layersToTransform)
        try c.encode(useRSLoRA, forKey: .useRSLoRA)
        switch initLoRAWeights {
        case .kaimingUniform: try c.encode(true, forKey: .initLoRAWeights)
        case .linearDefault: try c.encode(false, forKey: .initLoRAWeights)
        case .gaussian: try c.encode("gaussian", forKey: .initLoRAWeights)
        }
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(revision, forKey: .revision)
        try c.encode(inferenceMode, forKey: .inferenceMode)
    }

    /// Reads and validates an `adapter_config.json` file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LoRAError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { try self.init(jsonData: data) } catch LoRAError.invalidConfig(let detail) {
            throw LoRAError.invalidConfig("\(url.path): \(detail)")
        }
    }

    /// Decodes and validates `adapter_config.json` contents.
    public init(jsonData data: Data) throws {
        do { self = try JSONDecoder().decode(LoRAConfig.self, from: data) } catch let error as LoRAError {
            throw error
        } catch {
            throw LoRAError.invalidConfig("adapter_config.json is not a JSON object with PEFT's keys: \(error)")
        }
    }

    /// The `adapter_config.json` bytes: pretty-printed, keys sorted, deterministic.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch {
            throw LoRAError.io("cannot encode adapter_config.json: \(error)")
        }
    }
}
