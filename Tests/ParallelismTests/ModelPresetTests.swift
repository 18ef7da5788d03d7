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
        ("qwen3-4b", 4_022_468_096),
        ("qwen3-8b", 8_190_735_360),
    ]

    @Test(arguments: published)
    func parameterCountIsThePublishedOne(_ name: String, _ count: Int) throws {
        let preset = try #require(ModelPreset.named(name))
        #expect(try ModelSource(name).summary().parameterCount == count, "\(preset.huggingFaceID)")
    }

    @Test func everyPresetHasAPublishedCount() {
        #expect(Set(ModelPreset.names) == Set(Self.published.map(\.0)))
    }

    /// Llama 3.1 and 3.2 carry their rope_scaling; 3.2, SmolLM2 and the small Qwen3 tie the head;
    /// the Qwen3 presets are the qwen3 family (q/k norm) with head dim 128.
    @Test func ropeScalingAndTiedEmbeddings() throws {
        let scaled = ["llama3.1-8b": 8.0, "llama3.1-70b": 8.0, "llama3.2-1b": 32.0, "llama3.2-3b": 32.0]
        for preset in ModelPreset.all {
            #expect(preset.config.ropeScaling?.factor == scaled[preset.name], "\(preset.name)")
            #expect(preset.config.tieWordEmbeddings
                    == ["smollm2-135m", "llama3.2-1b", "llama3.2-3b", "qwen3-0.6b", "qwen3-4b"].contains(preset.name))
            #expect((preset.config.architecture == .qwen3) == preset.name.hasPrefix("qwen3"), "\(preset.name)")
            try preset.config.validate()
        }
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
