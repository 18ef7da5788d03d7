// Hugging Face export: GGUF → directory → ModelPath(dir).load() gives the same loss (F32 exactly,
// BF16 within a stated bound) and the same tokenizer; tiny models cover untied heads, Qwen2
// biases and the directory rules.

import Foundation
import Testing
import TestSupport
import Kernels
@testable import LlamaModel
@testable import ModelIO
import ModelFormats
import Tokenization

/// A fresh directory under the temporary directory, removed by `remove()`.
private struct TemporaryDirectory {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-hf-export-\(UUID().uuidString)").path
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private func textIDs() throws -> [Int] {
    let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
    return try #require(text["input_ids"] as? [Int])
}

/// A byte-level tokenizer covering the tiny models' 37 ids.
private func tinyTokenizer() -> TokenizerDefinition {
    let tokens = ["<s>", "</s>"] + (0..<35).map { "t\($0)" }
    var types = [Int](repeating: TokenizerDefinition.TokenType.normal, count: tokens.count)
    types[0] = TokenizerDefinition.TokenType.control
    types[1] = TokenizerDefinition.TokenType.control
    return TokenizerDefinition(tokens: tokens, merges: ["t 1"], tokenTypes: types, preTokenizer: .gpt2,
                               bosTokenID: 0, eosTokenID: 1, chatTemplate: "{{ messages }}")
}

@Suite struct HFExportTests {
    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func f32ExportOfTheGGUFGivesTheSameLossAndTokenizer() throws {
        let source = try ModelPath(TestPaths.defaultModel.path)
        let gguf = try source.load()
        let ids = try textIDs()
        #expect(ids.count == 91)
        let expected = try gguf.evaluate(sequences: [ids]).loss

        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let files = try exportHuggingFace(model: gguf, tokenizer: source.tokenizerDefinition(), to: directory.path, dtype: .f32)
        #expect(files.map { ($0.path as NSString).lastPathComponent }
                == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"])

        let exported = try ModelPath(directory.path)
        #expect(exported == .huggingFace(directory: directory.path))
        let reloaded = try exported.load()
        let loss = try reloaded.evaluate(sequences: [ids]).loss
        // The same dequantized F32 values in the same layout: the loss agrees to rounding.
        #expect(abs(loss - expected) <= 1e-5, "exported \(loss) vs GGUF \(expected)")
        let (a, b) = (gguf.config, reloaded.config)
        #expect(a.hiddenSize == b.hiddenSize && a.numHiddenLayers == b.numHiddenLayers && a.headDim == b.headDim)
        #expect(a.numKeyValueHeads == b.numKeyValueHeads && a.vocabSize == b.vocabSize && a.ropeTheta == b.ropeTheta)
        #expect(Float(a.rmsNormEps) == Float(b.rmsNormEps) && b.tieWordEmbeddings && b.bosTokenId == 1 && b.eosTokenIds == [2])

        // No lm_head for a tied model; every other name is the transformers one.
        let checkpoint = try SafeTensorsCheckpoint(path: directory.path)
        #expect(checkpoint.tensor(named: "lm_head.weight") == nil)
        #expect(checkpoint.tensor(named: "model.layers.29.mlp.down_proj.weight")?.info.shape == [576, 1536])

        let tokenizer = try BPETokenizer(exported.tokenizerDefinition())
        let original = try BPETokenizer(source.tokenizerDefinition())
        let cases = try #require((try TestPaths.referenceJSON("tokenizer_cases.json") as? [String: Any])?["cases"] as? [[String: Any]])
        #expect(cases.count == 60)
        for entry in cases {
            let text = try #require(entry["text"] as? String)
            let reference = try #require((entry["ids_with_digit_split_pretokenizer"] ?? entry["ids"]) as? [Int])
            #expect(tokenizer.encode(text) == reference, "\(text.debugDescription)")
            #expect(tokenizer.encode(text) == original.encode(text))
        }
        #expect(try exported.tokenizerDefinition().chatTemplate == source.tokenizerDefinition().chatTemplate)
    }

    /// BF16 keeps 8 mantissa bits: measured |Δloss| = 0.0045 (4.7997 vs 4.7952) on this text; the bound is 0.02.
    @Test(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
    func bf16ExportStaysCloseToTheGGUFLoss() throws {
        let source = try ModelPath(TestPaths.defaultModel.path)
        let gguf = try source.load()
        let ids = try textIDs()
        let expected = try gguf.evaluate(sequences: [ids]).loss
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try exportHuggingFace(model: gguf, tokenizer: source.tokenizerDefinition(), to: directory.path, dtype: .bf16)
        let config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: directory.path + "/config.json"))) as? [String: Any])
        #expect(config["torch_dtype"] as? String == "bfloat16")
        let loss = try ModelPath(directory.path).load().evaluate(sequences: [ids]).loss
        #expect(abs(loss - expected) <= 0.02, "bf16 \(loss) vs GGUF \(expected)")
    }

    @Test func untiedQwen2ModelRoundTripsExactly() throws {
        var config = tinyConfig(bias: true)
        config.architecture = .qwen2
        config.tieWordEmbeddings = false
        let tied = try tinyLlama(config: config, seed: 7)
        var weights = tied.weights
        var rng = RandomFloats(state: 99)
        weights.output = try FrozenMatrix(name: "head", rows: config.vocabSize, columns: config.hiddenSize,
                                          values: rng.values(config.vocabSize * config.hiddenSize, scale: 0.5))
        let model = try Llama(config: config, weights: weights)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: directory.path)

        let configJSON = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: directory.path + "/config.json"))) as? [String: Any])
        #expect(configJSON["architectures"] as? [String] == ["Qwen2ForCausalLM"])
        let reloaded = try ModelPath(directory.path).load()
        #expect(reloaded.config.architecture == .qwen2 && reloaded.config.attentionBias && !reloaded.config.tieWordEmbeddings)
        #expect(try reloaded.weights.output.dequantized() == weights.output.dequantized())
        #expect(reloaded.weights.layers[1].kBias?.array == weights.layers[1].kBias?.array)
        let ids = [[0, 5, 9, 3, 30, 2, 17, 1]]
        #expect(try reloaded.evaluate(sequences: ids).loss == model.evaluate(sequences: ids).loss)
        let generation = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: directory.path + "/generation_config.json"))) as? [String: Any])
        #expect(generation["bos_token_id"] as? Int == 0 && generation["eos_token_id"] as? Int == 1 && generation["pad_token_id"] == nil)
    }

    @Test func f16ExportConvertsEveryTensor() throws {
        let model = try tinyLlama()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: directory.path, dtype: .f16)
        let checkpoint = try SafeTensorsCheckpoint(path: directory.path)
        #expect(checkpoint.tensor(named: "model.embed_tokens.weight")?.info.dtype == .f16)
        #expect(checkpoint.tensor(named: "model.norm.weight")?.info.dtype == .f16)
        let reloaded = try ModelPath(directory.path).load()
        let ids = [[3, 4, 5, 6, 7, 8]]
        #expect(abs(try reloaded.evaluate(sequences: ids).loss - model.evaluate(sequences: ids).loss) < 1e-2)
    }

    @Test func refusesANonEmptyDirectoryUnlessOverwriting() throws {
        let model = try tinyLlama()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: directory.path + "/notes.txt"))
        do {
            try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: directory.path)
            Issue.record("expected a refusal")
        } catch let error as ModelFormatsError {
            #expect(error.description.contains(directory.path) && error.description.contains("not empty"))
        }
        try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: directory.path, overwrite: true)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/notes.txt"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/model.safetensors"))
        // A stale sharded index is refused even with overwrite.
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory.path + "/model.safetensors.index.json"))
        #expect(throws: ModelFormatsError.self) {
            try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: directory.path, overwrite: true)
        }
        // A file where the directory should be.
        let file = directory.path + "/notes.txt"
        #expect(throws: ModelFormatsError.self) { try exportHuggingFace(model: model, tokenizer: tinyTokenizer(), to: file) }
    }

    @Test func refusesRoPEFrequencyFactorsWithoutScaling() throws {
        let model = try tinyLlama()
        var weights = model.weights
        weights.ropeFrequencyFactors = [Float](repeating: 1, count: model.config.headDim / 2)
        let withFactors = try Llama(config: model.config, weights: weights)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: LlamaModelError.self) {
            try exportHuggingFace(model: withFactors, tokenizer: tinyTokenizer(), to: directory.path)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    @Test func configJSONDecodesBackEqual() throws {
        var config = tinyConfig()
        config.ropeScaling = Llama3RoPEScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32)
        config.eosTokenIds = [1, 2]
        config.bosTokenId = 0
        let data = try config.huggingFaceConfigJSON(torchDType: "float32", padTokenID: 2)
        var decoded = try JSONDecoder().decode(LlamaConfig.self, from: data)
        #expect(decoded.explicitHeadDim == config.headDim)
        decoded.explicitHeadDim = nil
        #expect(decoded == config)
    }
}
