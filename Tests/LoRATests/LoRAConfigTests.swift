import Foundation
import Testing
@testable import LoRA

@Suite struct LoRAConfigTests {
    @Test func decodesReferenceAdapterConfig() throws {
        let config = try LoRAConfig(contentsOf: referenceAdapter.appendingPathComponent("adapter_config.json"))
        #expect(config.r == 8)
        #expect(config.loraAlpha == 16)
        #expect(config.loraDropout == 0)
        // PEFT writes target_modules from a Python set, in no particular order.
        guard case .names(let names) = config.targetModules else { Issue.record("expected names"); return }
        #expect(Set(names) == ["q_proj", "v_proj"] && names.count == 2)
        #expect(config.layersToTransform == nil)
        #expect(config.useRSLoRA == false)
        #expect(config.initLoRAWeights == .kaimingUniform)
        #expect(config.baseModelNameOrPath == "HuggingFaceTB/SmolLM2-135M-Instruct")
        #expect(config.inferenceMode)
        #expect(config.peftVersion == "0.21.2")
        #expect(config.scaling == 2.0)
    }

    @Test func encodesEveryKeyPEFTWrites() throws {
        let url = referenceAdapter.appendingPathComponent("adapter_config.json")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let config = try LoRAConfig(contentsOf: url)
        let ours = try #require(try JSONSerialization.jsonObject(with: config.jsonData()) as? [String: Any])
        #expect(Set(ours.keys) == Set(reference.keys))
        // Every value equal to the reference's (JSON-level comparison).
        for key in reference.keys {
            let a = try JSONSerialization.data(withJSONObject: [reference[key] ?? NSNull()], options: .sortedKeys)
            let b = try JSONSerialization.data(withJSONObject: [ours[key] ?? NSNull()], options: .sortedKeys)
            #expect(a == b, "key \(key)")
        }
        #expect(try LoRAConfig(jsonData: config.jsonData()) == config)
    }

    @Test func scalingPlainAndRankStabilized() {
        #expect(LoRAConfig(r: 16, loraAlpha: 32, targetModules: .allLinear).scaling == 2)
        #expect(LoRAConfig(r: 16, loraAlpha: 32, targetModules: .allLinear, useRSLoRA: true).scaling == 8)
    }

    @Test func decodesVariantForms() throws {
        let a = try decodeConfig(#"{"peft_type": "LORA", "r": 4, "lora_alpha": 8.5, "target_modules": "all-linear", "init_lora_weights": "gaussian", "use_rslora": true}"#)
        #expect(a.targetModules == .allLinear)
        #expect(a.initLoRAWeights == .gaussian)
        #expect(a.loraAlpha == 8.5)
        let b = try decodeConfig(#"{"peft_type": "LORA", "target_modules": ["o_proj", "mlp.down_proj"], "layers_to_transform": 2}"#)
        #expect(b.layersToTransform == [2])
        #expect(b.r == 8 && b.loraAlpha == 8)  // PEFT defaults
        let c = try decodeConfig(#"{"peft_type": "LORA", "target_modules": ".*\\.(q|v)_proj", "task_type": null}"#)
        #expect(c.targetModules == .regex(#".*\.(q|v)_proj"#))
        let d = try decodeConfig(#"{"peft_type": "LORA"}"#)
        #expect(d.targetModules == .names(["q_proj", "v_proj"]))
        for config in [a, b, c, d] {
            #expect(try LoRAConfig(jsonData: config.jsonData()) == config)
        }
    }

    @Test func refusesBadValuesNamingTheField() {
        let cases: [(String, String)] = [
            (#"{"peft_type": "LORA", "r": 0}"#, "r must be a positive integer, got 0"),
            (#"{"peft_type": "LORA", "r": -3}"#, "r must be a positive integer, got -3"),
            (#"{"peft_type": "LORA", "r": 2.5}"#, "r must be an integer, got 2.5"),
            (#"{"peft_type": "LORA", "lora_alpha": 0}"#, "lora_alpha must be positive"),
            (#"{"peft_type": "LORA", "lora_dropout": 1.0}"#, "lora_dropout must be in [0, 1)"),
            (#"{"peft_type": "LORA", "target_modules": ["q_proj", "lm_head"]}"#, "target module 'lm_head' is not a linear module of a Llama layer; valid names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"),
            (#"{"peft_type": "LORA", "target_modules": []}"#, "target_modules is empty"),
            (#"{"peft_type": "LORA", "target_modules": "(q_proj"}"#, "does not compile"),
            (#"{"peft_type": "LORA", "bias": "all"}"#, "bias \"all\" is not supported"),
            (#"{"peft_type": "LORA", "bias": "lora_only"}"#, "bias \"lora_only\" is not supported"),
            (#"{"peft_type": "LORA", "use_dora": true}"#, "use_dora = true is not supported"),
            (#"{"peft_type": "LORA", "modules_to_save": ["lm_head"]}"#, "modules_to_save = [\"lm_head\"] is not supported"),
            (#"{"peft_type": "LORA", "fan_in_fan_out": true}"#, "fan_in_fan_out = true is not supported"),
            (#"{"peft_type": "LORA", "rank_pattern": {"q_proj": 4}}"#, "rank_pattern"),
            (#"{"peft_type": "LORA", "init_lora_weights": "pissa"}"#, "init_lora_weights \"pissa\" is not supported"),
            (#"{"peft_type": "LORA", "task_type": "SEQ_CLS"}"#, "task_type must be \"CAUSAL_LM\""),
            (#"{"peft_type": "PREFIX_TUNING"}"#, "peft_type must be \"LORA\""),
            (#"{"r": 8}"#, "peft_type must be \"LORA\", got null"),
            (#"{"peft_type": "LORA", "target_modules": "all-linear", "layers_to_transform": [0]}"#, "layers_to_transform cannot be used when target_modules is a string"),
            (#"{"peft_type": "LORA", "layers_to_transform": [-1]}"#, "negative layer index -1"),
        ]
        for (json, expected) in cases {
            let message = loraErrorMessage { _ = try decodeConfig(json) }
            #expect(message.hasPrefix("invalid LoRA config: "), "\(json) → \(message)")
            #expect(message.contains(expected), "\(json) → \(message)")
        }
    }

    @Test func fileErrorsNameThePath() throws {
        let dir = try temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("adapter_config.json")
        #expect(loraErrorMessage { _ = try LoRAConfig(contentsOf: url) }.contains("cannot read \(url.path)"))
        try Data(#"{"peft_type": "LORA", "r": 0}"#.utf8).write(to: url)
        #expect(loraErrorMessage { _ = try LoRAConfig(contentsOf: url) } == "invalid LoRA config: \(url.path): r must be a positive integer, got 0")
        try Data("[1, 2]".utf8).write(to: url)
        #expect(loraErrorMessage { _ = try LoRAConfig(contentsOf: url) }.contains("is not a JSON object"))
    }
}
