// GGUF model export: the default GGUF → F32 GGUF → Llama.load(gguf:) gives the same loss, the
// exported q/k rows are byte-for-byte llama.cpp's stored order (the source file was written by
// llama.cpp's converter), metadata and tokenizer are carried over; tiny models cover F16,
// qwen2 biases with an untied head, a tokenizer rebuilt from a TokenizerDefinition and Llama 3
// RoPE scaling written as rope_freqs.weight.

import Foundation
import Testing
import TestSupport
import Kernels
@testable import LlamaModel
@testable import ModelIO
import ModelFormats
import Quantization
import Tokenization

private func temporaryFile(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("tessera-gguf-\(label)-\(UUID().uuidString).gguf").path
}

private func referenceIDs() throws -> [Int] {
    let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
    return try #require(text["input_ids"] as? [Int])
}

/// All values of a GGUF tensor in stored row order.
private func storedValues(_ file: GGUFFile, _ name: String) throws -> [Float] {
    let info = try #require(file.tensor(named: name), "missing \(name)")
    var values = [Float](repeating: 0, count: info.elementCount)
    try values.withUnsafeMutableBufferPointer { buffer in
        try Dequantize.run(info.type, source: file.data(for: info), count: info.elementCount, into: buffer.baseAddress!)
    }
    return values
}

private func tokenizer37() -> TokenizerDefinition {
    let tokens = ["<s>", "</s>"] + (0..<35).map { "t\($0)" }
    var types = [Int](repeating: TokenizerDefinition.TokenType.normal, count: tokens.count)
    types[0] = TokenizerDefinition.TokenType.control
    types[1] = TokenizerDefinition.TokenType.control
    return TokenizerDefinition(tokens: tokens, merges: ["t 1"], tokenTypes: types, preTokenizer: .smollm,
                               bosTokenID: 0, eosTokenID: 1, addBOS: true, chatTemplate: "{{ messages }}")
}

@Suite struct GGUFExportTests {
    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func f32ExportOfTheDefaultModelReloadsWithTheSameLossAndLlamaCppRowOrder() throws {
        let source = try GGUFFile(path: TestPaths.defaultModel.path)
        let model = try Llama.load(gguf: source.path)
        let ids = try referenceIDs()
        let expected = try model.evaluate(sequences: [ids]).loss
        let path = temporaryFile("f32")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(copying: source), to: path, dtype: .f32, name: "smollm2-f32")

        let exported = try GGUFFile(path: path)
        // Same tensor names as llama.cpp's converter wrote (tied: no output.weight).
        #expect(Set(exported.tensors.map(\.name)) == Set(source.tensors.map(\.name)))
        #expect(exported.tensors.allSatisfy { $0.type == .f32 })
        // q/k permuted back: the stored rows equal the source's stored rows, dequantized.
        for name in ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.29.attn_k.weight", "blk.7.ffn_down.weight"] {
            let same = try storedValues(exported, name) == storedValues(source, name)
            #expect(same, "\(name): exported rows differ from llama.cpp's stored rows")
            #expect(exported.tensor(named: name)?.dimensions == source.tensor(named: name)?.dimensions)
        }
        // Hyper-parameters as the source states them; the tokenizer metadata verbatim.
        #expect(exported["general.architecture"]?.string == "llama" && exported["general.name"]?.string == "smollm2-f32")
        #expect(exported["general.file_type"]?.int == 0)
        for key in ["context_length", "embedding_length", "block_count", "feed_forward_length", "rope.dimension_count",
                    "attention.head_count", "attention.head_count_kv"] {
            #expect(exported["llama.\(key)"]?.int == source["llama.\(key)"]?.int, "llama.\(key)")
        }
        for key in ["attention.layer_norm_rms_epsilon", "rope.freq_base"] {
            #expect(exported["llama.\(key)"]?.double == source["llama.\(key)"]?.double, "llama.\(key)")
        }
        #expect(exported["llama.vocab_size"]?.int == 49152)
        let tokenizerKeys = source.metadataKeys.filter { $0.hasPrefix("tokenizer.") }
        #expect(tokenizerKeys.contains("tokenizer.chat_template") && tokenizerKeys.contains("tokenizer.ggml.merges"))
        for key in tokenizerKeys { #expect(exported[key] == source[key], "\(key)") }

        let reloaded = try Llama.load(gguf: path)
        #expect(reloaded.config == model.config)
        let loss = try reloaded.evaluate(sequences: [ids]).loss
        #expect(abs(loss - expected) <= 1e-5, "exported \(loss) vs source \(expected)")
    }

    /// F16 keeps 11 significant bits; the tiny model's loss moves by far less than the bound.
    @Test func f16ExportKeepsNormsInF32AndStaysClose() throws {
        let model = try tinyLlama()
        let path = temporaryFile("f16")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer37()), to: path)
        let file = try GGUFFile(path: path)
        #expect(file["general.file_type"]?.int == 1)
        #expect(file.tensor(named: "token_embd.weight")?.type == .f16)
        #expect(file.tensor(named: "blk.1.attn_q.weight")?.type == .f16)
        #expect(file.tensor(named: "blk.1.attn_q.weight")?.dimensions == [16, 16])
        #expect(file.tensor(named: "blk.1.ffn_down.weight")?.dimensions == [24, 16])
        #expect(file.tensor(named: "blk.1.ffn_norm.weight")?.type == .f32)
        #expect(file.tensor(named: "output_norm.weight")?.type == .f32)
        #expect(file.tensor(named: "output.weight") == nil)
        let ids = [[0, 3, 4, 5, 6, 7, 8, 1]]
        let reloaded = try Llama.load(gguf: path)
        #expect(abs(try reloaded.evaluate(sequences: ids).loss - model.evaluate(sequences: ids).loss) < 1e-2)
    }

    @Test func untiedQwen2WithBiasesAndARebuiltTokenizerRoundTripsExactly() throws {
        var config = tinyConfig(bias: true)
        config.architecture = .qwen2
        config.tieWordEmbeddings = false
        var weights = try tinyLlama(config: config, seed: 5).weights
        var rng = RandomFloats(state: 17)
        weights.output = try FrozenMatrix(name: "head", rows: config.vocabSize, columns: config.hiddenSize,
                                          values: rng.values(config.vocabSize * config.hiddenSize, scale: 0.5))
        let model = try Llama(config: config, weights: weights)
        let path = temporaryFile("qwen2")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tokenizer = tokenizer37()
        try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer), to: path, dtype: .f32)

        let file = try GGUFFile(path: path)
        #expect(file["general.architecture"]?.string == "qwen2" && file["qwen2.block_count"]?.int == 2)
        // qwen2 is NEOX RoPE: q rows stay in HF order.
        let hfOrder = try storedValues(file, "blk.0.attn_q.weight") == weights.layers[0].q.dequantized()
        #expect(hfOrder, "qwen2 q rows must stay in HF order")
        #expect(try storedValues(file, "blk.1.attn_k.bias") == weights.layers[1].kBias?.array)
        #expect(try TokenizerDefinition(gguf: file) == tokenizer)
        let reloaded = try Llama.load(gguf: path)
        #expect(reloaded.config.architecture == .qwen2 && reloaded.config.attentionBias && !reloaded.config.tieWordEmbeddings)
        let ids = [[0, 5, 9, 3, 30, 2, 17, 1]]
        #expect(try reloaded.evaluate(sequences: ids).loss == model.evaluate(sequences: ids).loss)
    }

    @Test func llamaPermutationIsTheInverseOfTheLoadOrder() throws {
        let model = try tinyLlama()
        let path = temporaryFile("perm")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer37()), to: path, dtype: .f32)
        let file = try GGUFFile(path: path)
        let hf = try model.weights.layers[0].k.dequantized()               // [G·D = 8, C = 16]
        let stored = try storedValues(file, "blk.0.attn_k.weight")
        let d = model.config.headDim, c = model.config.hiddenSize
        // Stored row h·D + 2i + s is HF row h·D + s·D/2 + i.
        for h in 0..<model.config.numKeyValueHeads {
            for i in 0..<(d / 2) {
                for s in 0..<2 {
                    let storedRow = h * d + 2 * i + s, hfRow = h * d + s * d / 2 + i
                    #expect(Array(stored[(storedRow * c)..<((storedRow + 1) * c)]) == Array(hf[(hfRow * c)..<((hfRow + 1) * c)]))
                }
            }
        }
        let ids = [[2, 3, 4, 5, 6]]
        #expect(try Llama.load(gguf: path).evaluate(sequences: ids).loss == model.evaluate(sequences: ids).loss)
    }

    @Test func llama3RoPEScalingBecomesRopeFreqs() throws {
        var config = tinyConfig()
        config.ropeScaling = Llama3RoPEScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32)
        let model = try Llama(config: config, weights: tinyLlama().weights)
        let path = temporaryFile("rope")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer37()), to: path, dtype: .f32)
        let reloaded = try Llama.load(gguf: path)
        let factors = try #require(reloaded.weights.ropeFrequencyFactors)
        #expect(factors.count == config.headDim / 2 && factors.contains { $0 != 1 })
        let ids = [Array(0..<36)]
        #expect(abs(try reloaded.evaluate(sequences: ids).loss - model.evaluate(sequences: ids).loss) <= 1e-5)
    }

    @Test func refusesAnExistingFileUnlessOverwriting() throws {
        let model = try tinyLlama()
        let path = temporaryFile("exists")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path))
        do {
            try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer37()), to: path)
            Issue.record("expected a refusal")
        } catch let error as ModelFormatsError {
            #expect(error.description.contains(path) && error.description.contains("overwrite"))
        }
        let written = try exportGGUF(model: model, tokenizer: GGUFTokenizerMetadata(tokenizer37()), to: path, overwrite: true)
        #expect(written.bytes > 1000)
        #expect(try GGUFFile(path: path)["general.architecture"]?.string == "llama")
    }
}
