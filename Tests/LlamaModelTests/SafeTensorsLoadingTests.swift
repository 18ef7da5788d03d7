import Foundation
import Testing
@testable import LlamaModel
@testable import ModelIO
import ModelFormats

/// A tiny model written as an HF directory (config.json + model.safetensors) loads back and
/// computes the same thing; missing or misshapen tensors are named in the error.
@Suite struct SafeTensorsLoadingTests {
    private func writeDirectory(_ model: Llama, dtype: SafeTensorsDType, skip: String? = nil,
                                reshape: String? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try JSONEncoder().encode(model.config).write(to: dir.appendingPathComponent("config.json"))
        var writer = SafeTensorsWriter()
        func add(_ name: String, _ shape: [Int], _ values: [Float]) throws {
            if name == skip { return }
            let shape = name == reshape ? shape.reversed() : shape
            try writer.add(name: name, shape: shape, floats: values, as: dtype)
        }
        let w = model.weights
        try add("model.embed_tokens.weight", [w.embedding.rows, w.embedding.columns], w.embedding.dequantized())
        for (l, layer) in w.layers.enumerated() {
            let p = "model.layers.\(l)."
            try add(p + "input_layernorm.weight", [layer.attentionNorm.count], layer.attentionNorm.array)
            try add(p + "post_attention_layernorm.weight", [layer.ffnNorm.count], layer.ffnNorm.array)
            for (name, m) in [("self_attn.q_proj", layer.q), ("self_attn.k_proj", layer.k), ("self_attn.v_proj", layer.v),
                              ("self_attn.o_proj", layer.o), ("mlp.gate_proj", layer.gate), ("mlp.up_proj", layer.up),
                              ("mlp.down_proj", layer.down)] {
                try add(p + name + ".weight", [m.rows, m.columns], m.dequantized())
            }
        }
        try add("model.norm.weight", [w.outputNorm.count], w.outputNorm.array)
        try writer.write(to: dir.appendingPathComponent("model.safetensors").path)
        return dir
    }

    @Test func roundTripComputesTheSameLoss() throws {
        let model = try tinyLlama()
        let dir = try writeDirectory(model, dtype: .f32)
        defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try Llama.load(huggingFaceDirectory: dir.path)
        #expect(loaded.config == model.config)
        let ids = [1, 5, 9, 30, 2, 2, 7]
        let a = try model.evaluate(sequences: [ids], logitRows: [6])
        let b = try loaded.evaluate(sequences: [ids], logitRows: [6])
        #expect(a.loss == b.loss && a.logits == b.logits)
    }

    @Test func bf16WeightsStayBF16() throws {
        let model = try tinyLlama()
        let dir = try writeDirectory(model, dtype: .bf16)
        defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try Llama.load(huggingFaceDirectory: dir.path)
        #expect(loaded.weights.layers[0].q.type == .bf16)
        let r = try loaded.evaluate(sequences: [[1, 5, 9, 30]])
        #expect(r.loss.isFinite)
    }

    @Test func missingAndMisshapenTensorsAreNamed() throws {
        let model = try tinyLlama()
        let missing = try writeDirectory(model, dtype: .f32, skip: "model.layers.1.mlp.up_proj.weight")
        defer { try? FileManager.default.removeItem(at: missing) }
        #expect(throws: LlamaModelError.invalidWeights("tensor 'model.layers.1.mlp.up_proj.weight' is missing from \(missing.path)")) {
            try Llama.load(huggingFaceDirectory: missing.path)
        }
        let wrong = try writeDirectory(model, dtype: .f32, reshape: "model.layers.0.mlp.down_proj.weight")
        defer { try? FileManager.default.removeItem(at: wrong) }
        #expect(throws: LlamaModelError.invalidWeights("tensor 'model.layers.0.mlp.down_proj.weight' in \(wrong.path): expected shape [16, 24], found [24, 16]")) {
            try Llama.load(huggingFaceDirectory: wrong.path)
        }
    }
}
