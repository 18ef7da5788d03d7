// Quantized GGUF export: llama.cpp's Q8_0 / Q4_K_M type choice per tensor (llama_tensor_get_type
// and tensor_type_fallback in src/llama-quant.cpp) and a tiny model's quantized export reloading
// with a loss close to F16's.

import Foundation
import Testing
import TestSupport
@testable import LlamaModel
@testable import ModelIO
import ModelFormats
import Quantization
import Tokenization

@Suite struct GGUFQuantizationTests {
    /// llama.cpp's Q4_K_M picks for 32 layers (Llama 2 7B): the first and last 4 and every third between.
    @Test func usesMoreBitsPicksLlamaCppsLayers() {
        let picked = (0..<32).filter { GGUFQuantization.usesMoreBits(layer: $0, layers: 32) }
        #expect(picked == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        let smol = (0..<30).filter { GGUFQuantization.usesMoreBits(layer: $0, layers: 30) }
        #expect(smol == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29])
    }

    /// SmolLM2-135M: hidden 576 is not whole 256-blocks, so Q4_K falls back to Q5_0 and Q6_K to
    /// Q8_0; ffn_down rows are 1536 = 6 × 256 and keep K-quants; the tied token_embd is the output.
    @Test func q4KMOnSmolLM2Shapes() {
        let mix = GGUFQuantization.q4_k_m
        func type(_ role: Architecture.TensorRole, _ layer: Int?, _ row: Int, tied: Bool = true) -> GGMLType {
            mix.tensorType(role: role, layer: layer, layers: 30, rowLength: row, tiedEmbeddings: tied)
        }
        #expect(type(.embedding, nil, 576) == .q8_0)
        #expect(type(.q, 0, 576) == .q5_0 && type(.gate, 4, 576) == .q5_0)
        #expect(type(.v, 0, 576) == .q8_0 && type(.v, 4, 576) == .q5_0)
        #expect(type(.down, 0, 1536) == .q6_K && type(.down, 5, 1536) == .q6_K && type(.down, 4, 1536) == .q4_K)
        // Rows of whole 256-blocks (Llama 3 / 7B shapes): K-quants throughout.
        #expect(type(.embedding, nil, 4096, tied: false) == .q4_K)
        #expect(type(.output, nil, 4096, tied: false) == .q6_K)
        #expect(type(.embedding, nil, 2048, tied: true) == .q6_K)
        #expect(type(.v, 1, 4096) == .q6_K && type(.v, 4, 4096) == .q4_K && type(.o, 1, 4096) == .q4_K)
        // Q8_0: everything Q8_0; rows that are not whole 32-blocks keep F16.
        #expect(GGUFQuantization.q8_0.tensorType(role: .output, layer: nil, layers: 30, rowLength: 576, tiedEmbeddings: false) == .q8_0)
        #expect(GGUFQuantization.q8_0.tensorType(role: .down, layer: 0, layers: 30, rowLength: 1536, tiedEmbeddings: true) == .q8_0)
        #expect(GGUFQuantization.q8_0.tensorType(role: .q, layer: 0, layers: 30, rowLength: 16, tiedEmbeddings: true) == .f16)
        #expect(GGUFQuantization.fallback(.q4_K, rowLength: 48) == .f16)
    }

    /// A 2-layer model with 256-wide rows exported in both mixes reloads through Tessera's own
    /// reader with every tensor close to the F16 export's. (The SmolLM2 eval-loss check is
    /// scripts/test.sh's "merge --quant" check.)
    @Test(arguments: [GGUFQuantization.q8_0, .q4_k_m])
    func quantizedExportReloadsCloseToF16(mix: GGUFQuantization) throws {
        var config = tinyConfig()
        config.hiddenSize = 256
        config.intermediateSize = 512
        config.numAttentionHeads = 4
        config.numKeyValueHeads = 2
        let model = try tinyLlama(config: config, seed: 3)
        let tokens = ["<s>", "</s>"] + (0..<35).map { "t\($0)" }
        let tokenizer = GGUFTokenizerMetadata(TokenizerDefinition(
            tokens: tokens, merges: [], tokenTypes: nil, preTokenizer: .smollm, bosTokenID: 0, eosTokenID: 1,
            addBOS: true, chatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"))
        let directory = FileManager.default.temporaryDirectory
        let f16Path = directory.appendingPathComponent("tessera-quant-f16-\(UUID().uuidString).gguf").path
        let path = directory.appendingPathComponent("tessera-quant-\(mix.rawValue)-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: f16Path); try? FileManager.default.removeItem(atPath: path) }
        try exportGGUF(model: model, tokenizer: tokenizer, to: f16Path)
        try exportGGUF(model: model, tokenizer: tokenizer, to: path, quantization: mix)

        let file = try GGUFFile(path: path)
        #expect(file["general.file_type"]?.int == Int(mix.fileType))
        #expect(file["general.quantization_version"]?.int == 2)
        let expected: [String: GGMLType] = mix == .q8_0
            ? ["token_embd.weight": .q8_0, "blk.0.attn_q.weight": .q8_0, "blk.1.ffn_down.weight": .q8_0, "blk.0.attn_norm.weight": .f32]
            : ["token_embd.weight": .q6_K, "blk.0.attn_q.weight": .q4_K, "blk.0.attn_v.weight": .q4_K,
               "blk.1.attn_v.weight": .q6_K, "blk.0.ffn_down.weight": .q4_K, "blk.1.ffn_down.weight": .q6_K,
               "blk.0.attn_norm.weight": .f32]
        for (name, type) in expected { #expect(file.tensor(named: name)?.type == type, "\(name)") }

        // Every tensor against the F16 export's: relative RMS error within its type's precision.
        let reference = try GGUFFile(path: f16Path)
        func values(_ file: GGUFFile, _ info: GGUFTensorInfo) throws -> [Float] {
            var out = [Float](repeating: 0, count: info.elementCount)
            try out.withUnsafeMutableBufferPointer { buffer in
                try Dequantize.run(info.type, source: file.data(for: info), count: info.elementCount, into: buffer.baseAddress!)
            }
            return out
        }
        for info in file.tensors {
            let x = try values(reference, try #require(reference.tensor(named: info.name)))
            let y = try values(file, info)
            let rms = (x.map { $0 * $0 }.reduce(0, +) / Float(x.count)).squareRoot()
            let rmse = (zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(x.count)).squareRoot()
            let bound: Float = info.type == .q4_K ? 0.12 : info.type == .f32 ? 0 : 0.03
            #expect(rmse <= bound * rms, "\(info.name) \(info.type): rmse \(rmse) vs rms \(rms)")
        }
        // The random model's loss is very sensitive (≈ 10 nats); Q8_0 still tracks F16 within 1 %.
        if mix == .q8_0 {
            let ids = [[0, 3, 4, 5, 6, 7, 8, 9, 10, 1]]
            let f16Loss = try Llama.load(gguf: f16Path).evaluate(sequences: ids).loss
            let loss = try Llama.load(gguf: path).evaluate(sequences: ids).loss
            #expect(abs(loss - f16Loss) <= 0.01 * f16Loss, "\(mix): \(loss) vs f16 \(f16Loss)")
        }
    }

    @Test func modelfileCarriesTheChatMLTemplateAndStops() {
        let tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"]
        let tokenizer = GGUFTokenizerMetadata(TokenizerDefinition(
            tokens: tokens, merges: [], tokenTypes: nil, preTokenizer: .smollm, bosTokenID: 1, eosTokenID: 2,
            addBOS: false, chatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"))
        let text = ollamaModelfile(ggufFileName: "m.gguf", tokenizer: tokenizer)
        #expect(text.contains("FROM ./m.gguf\n"))
        #expect(text.contains("TEMPLATE \"\"\"{{ if .System }}<|im_start|>system"))
        #expect(text.contains("PARAMETER stop \"<|im_end|>\"") && text.contains("PARAMETER stop \"<|im_start|>\""))
        #expect(!text.contains("SYSTEM"))
        // The default system prompt is what the template renders in front of a lone user turn.
        let smolLM = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        let withSystem = ollamaModelfile(ggufFileName: "m.gguf", tokenizer: GGUFTokenizerMetadata(TokenizerDefinition(
            tokens: tokens, merges: [], tokenTypes: nil, preTokenizer: .smollm, bosTokenID: 1, eosTokenID: 2,
            addBOS: false, chatTemplate: smolLM)))
        #expect(withSystem.contains("SYSTEM \"\"\"You are a helpful AI assistant named SmolLM, trained by Hugging Face\"\"\"\n"))
        let plain = ollamaModelfile(ggufFileName: "m.gguf", tokenizer: GGUFTokenizerMetadata(TokenizerDefinition(
            tokens: ["<s>", "</s>"], merges: [], tokenTypes: nil, preTokenizer: .smollm, bosTokenID: 0, eosTokenID: 1,
            addBOS: true, chatTemplate: nil)))
        #expect(!plain.contains("TEMPLATE") && plain.contains("PARAMETER stop \"</s>\""))
    }
}
