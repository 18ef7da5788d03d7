// The presets (LlamaModel/ModelPreset.swift) against the published parameter counts of their
// checkpoints (transformers' num_parameters(); tied embeddings counted once), PEFT's
// print_trainable_parameters line for a preset (the same code as for a model on disk), and how
// ModelSource resolves a --model argument.

import Foundation
import Testing
import LlamaModel
import ModelIO
import LoRA
import TestSupport

@Suite struct ModelPresetTests {
    /// Every preset with its checkpoint's published parameter count.
    static let published: [(String, Int)] = [
        ("smollm2-135m", 134_515_008),
        ("llama2-7b", 6_738_415_616),
        ("llama2-13b", 13_015_864_320),
        ("llama2-70b", 68_976_648_192),
        ("llama3-8b", 8_030_261_248),
        ("llama3-70b", 70_553_706_496),
        ("llama3.1-8b", 8_030_261_248),
        ("llama3.1-70b", 70_553_706_496),
        ("llama3.2-1b", 1_235_814_400),
        ("llama3.2-3b", 3_212_749_824),
        ("qwen3-0.6b", 596_049_920),
        ("qwen3-1.7b", 1_720_574_976),
        ("qwen3-4b", 4_022_468_096),
        ("qwen3-8b", 8_190_735_360),
        ("gemma3-270m", 268_098_176),
        ("phi3-mini", 3_821_079_552),
        ("phi4-mini", 3_836_021_760),
        ("gemma3-1b", 999_885_952),
        ("gemma3-4b", 3_880_263_168),   // the text model; the checkpoint adds a vision tower
    ]

    /// Every preset against transformers' `from_config` of the published config on the meta
    /// device and PEFT's trainable line for r 16 on q, v and r 8 on all seven linears
    /// (Tests/Fixtures/reference/presets.json, scripts/reference/make_preset_reference.py).
    @Test func everyPresetMatchesTransformersAndPEFT() throws {
        let url = TestPaths.familyReference("presets.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let presets = try #require(json["presets"] as? [String: [String: Any]])
        let adapters = try #require(json["adapters"] as? [String: [String: Any]])
        #expect(Set(presets.keys) == Set(ModelPreset.names))
        for (name, entry) in presets {
            let source = try ModelSource(name)
            let total = try source.summary().parameterCount
            #expect(total == entry["parameters"] as? Int, "\(name): \(total) vs transformers")
            let lines = try #require(entry["peft_trainable_lines"] as? [String: String])
            // A family with fused modules (Phi) names its own adapters.
            for (key, adapter) in entry["adapters"] as? [String: [String: Any]] ?? adapters {
                let r = try #require(adapter["r"] as? Int), alpha = try #require(adapter["lora_alpha"] as? Double)
                let modules = try #require(adapter["target_modules"] as? [String])
                let config = LoRAConfig(r: r, loraAlpha: alpha, targetModules: .names(modules))
                let lora = try LoRAAdapter(config: config, targets: config.targets(for: source.config()))
                #expect(lora.trainableParametersLine(totalBaseParameters: total) == lines[key], "\(name) \(key)")
            }
        }
    }

    @Test(arguments: published)
    func parameterCountIsThePublishedOne(_ name: String, _ count: Int) throws {
        let preset = try #require(ModelPreset.named(name))
        #expect(try ModelSource(name).summary().parameterCount == count, "\(preset.huggingFaceID)")
    }

    @Test func everyPresetHasAPublishedCount() {
        #expect(Set(ModelPreset.names) == Set(Self.published.map(\.0)))
    }

    /// Llama 3.1 and 3.2 carry their rope_scaling; 3.2, SmolLM2 and the small Qwen3 tie the head;
    /// the Qwen3 presets are the qwen3 family (q/k norm) with head dim 128; Phi-4-mini ties the head
    /// and rotates 96 of each head's 128 values.
    @Test func ropeScalingAndTiedEmbeddings() throws {
        let scaled = ["llama3.1-8b": 8.0, "llama3.1-70b": 8.0, "llama3.2-1b": 32.0, "llama3.2-3b": 32.0]
        for preset in ModelPreset.all {
            #expect(preset.config.ropeScaling?.factor == scaled[preset.name], "\(preset.name)")
            #expect(preset.config.tieWordEmbeddings
                    == ["smollm2-135m", "llama3.2-1b", "llama3.2-3b", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "phi4-mini"].contains(preset.name)
                    || preset.name.hasPrefix("gemma3"))
            #expect((preset.config.architecture == .phi3) == preset.name.hasPrefix("phi"), "\(preset.name)")
            #expect((preset.config.architecture == .gemma3) == preset.name.hasPrefix("gemma3"), "\(preset.name)")
            #expect((preset.config.architecture == .qwen3) == preset.name.hasPrefix("qwen3"), "\(preset.name)")
            try preset.config.validate()
        }
        #expect(ModelPreset.named("phi4-mini")?.config.rotaryDim == 96 && ModelPreset.named("phi3-mini")?.config.rotaryDim == 96)
    }

    /// The seed's line: PEFT prints it for Llama-2-7B with LoraConfig(r=8, target_modules=
    /// ["q_proj", "v_proj"]); r = 16 doubles the trainable count.
    @Test(arguments: [
        (8, "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622"),
        (16, "trainable params: 8,388,608 || all params: 6,746,804,224 || trainable%: 0.1243"),
    ])
    func trainableLineOfAPreset(_ r: Int, _ line: String) throws {
        let source = try ModelSource("llama2-7b")
        let config = LoRAConfig(r: r, loraAlpha: Double(2 * r), targetModules: .names(["q_proj", "v_proj"]))
        let adapter = try LoRAAdapter(config: config, targets: config.targets(for: source.config()))
        #expect(adapter.trainableParametersLine(totalBaseParameters: try source.summary().parameterCount) == line)
    }

    /// The preset's shape-only summary counts what the GGUF file of the same model holds.
    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func presetCountsWhatTheFileHolds() throws {
        let file = try ModelSource(TestPaths.defaultModel.path)
        #expect(file.hasWeights)
        #expect(try file.summary().parameterCount == ModelSource("smollm2-135m").summary().parameterCount)
    }

    @Test func unknownNameListsThePresets() {
        #expect {
            try ModelSource("llama9-1t")
        } throws: { error in
            let text = "\(error)"
            return text.contains("'llama9-1t' is neither") && ModelPreset.names.allSatisfy { text.contains($0) }
        }
        #expect(throws: Never.self) { try ModelSource("Llama3.2-1B") }   // names are case-insensitive
    }

    /// A config.json (or a directory holding only one) is a shape without weights.
    @Test func configFileIsAShape() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("preset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = #"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 256}"#
        try json.write(to: directory.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        for name in [directory.path, directory.appendingPathComponent("config.json").path] {
            let source = try ModelSource(name)
            #expect(!source.hasWeights)
            #expect(try source.config().hiddenSize == 64)
            #expect(try source.embeddingBytesPerParameter() == nil)
        }
    }
}
