// The whole forward against transformers' fp32 numbers for SmolLM2-135M-Instruct
// (Tests/Fixtures/reference/smollm2: base.json, generate.json, dequant_checks.json).

import Foundation
import Testing
import TestSupport
@testable import LlamaModel
@testable import ModelIO
import ModelFormats

/// One model shared by the suite: loading maps the file, it does not copy it.
private let sharedModel: Result<Llama, Error> = Result { try Llama.load(gguf: TestPaths.defaultModel.path) }

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct SmolLM2ReferenceTests {
    private func model() throws -> Llama { try sharedModel.get() }

    @Test func configFromGGUFMetadata() throws {
        let c = try model().config
        #expect(c.hiddenSize == 576 && c.intermediateSize == 1536 && c.numHiddenLayers == 30)
        #expect(c.numAttentionHeads == 9 && c.numKeyValueHeads == 3 && c.headDim == 64)
        #expect(c.vocabSize == 49152 && c.ropeTheta == 100_000 && c.tieWordEmbeddings)
        #expect(abs(c.rmsNormEps - 1e-5) < 1e-9)
        #expect(c.bosTokenId == 1 && c.eosTokenIds == [2])
    }

    @Test func baseLossAndLogitsMatchTransformers() throws {
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        let ids = try #require(text["input_ids"] as? [Int])
        let base = try #require(try TestPaths.referenceJSON("base.json") as? [String: Any])
        let expectedLoss = try #require(base["loss"] as? Double)
        let expectedLogits = try #require(base["logits_last3_first20"] as? [String: [Double]])
        #expect(ids.count == 91)
        let rows = [ids.count - 3, ids.count - 2, ids.count - 1]
        let result = try model().evaluate(sequences: [ids], logitRows: rows)
        #expect(result.countedTargets == 90)
        #expect(abs(result.loss - expectedLoss) <= 2e-4, "loss \(result.loss) vs \(expectedLoss)")
        for (slot, row) in rows.enumerated() {
            let expected = try #require(expectedLogits[String(row)])
            for i in 0..<20 {
                #expect(abs(Double(result.logits[slot][i]) - expected[i]) <= 1e-3,
                        "row \(row) logit \(i): \(result.logits[slot][i]) vs \(expected[i])")
            }
        }
    }

    /// One case per test so they run in parallel (each is ~10–20 decode steps; slow in debug).
    @Test(arguments: 0..<3)
    func greedyGenerationMatchesTransformers(_ index: Int) throws {
        let generate = try #require(try TestPaths.referenceJSON("generate.json") as? [String: Any])
        let cases = try #require(generate["cases"] as? [[String: Any]])
        try #require(cases.count == 3)
        let prompt = try #require(cases[index]["prompt_ids"] as? [Int])
        let expected = try #require(cases[index]["generated_ids"] as? [Int])
        let got = try model().generate(prompt: prompt, maxNewTokens: 20, sampling: .greedy, stopTokens: [2])
        #expect(got == expected)
    }

    @Test func dequantizedWeightsInHFLayout() throws {
        let checks = try #require(try TestPaths.referenceJSON("dequant_checks.json") as? [String: Any])
        let llama = try model()
        let w = llama.weights
        let matrices: [String: FrozenMatrix] = [
            "token_embd.weight": w.embedding, "blk.0.attn_q.weight": w.layers[0].q,
            "blk.0.attn_v.weight": w.layers[0].v, "blk.29.ffn_down.weight": w.layers[29].down,
        ]
        for (name, matrix) in matrices {
            let entry = try #require(checks[name] as? [String: Any], "\(name)")
            let hfFirst8 = try #require(entry["hf_first8"] as? [Double])
            let hfShape = try #require(entry["hf_shape"] as? [Int])
            #expect([matrix.rows, matrix.columns] == hfShape, "\(name)")
            var row = [Float](repeating: 0, count: matrix.columns)
            try matrix.dequantizeRows(0, count: 1, into: &row)
            // JSON doubles may be off in the last bits: compare after rounding to Float (exact).
            for i in 0..<8 { #expect(row[i] == Float(hfFirst8[i]), "\(name)[\(i)]") }
            // Sums are layout independent: the whole matrix, un-permuted, sums like HF's.
            if let hfSum = entry["hf_sum"] as? Double {
                let sum = try matrix.dequantized().reduce(0.0) { $0 + Double($1) }
                #expect(abs(sum - hfSum) <= 1e-6 * max(1, abs(hfSum)) + 1e-3, "\(name) sum \(sum) vs \(hfSum)")
            }
        }
        let normEntry = try #require(checks["output_norm.weight"] as? [String: Any])
        let normFirst8 = try #require(normEntry["hf_first8"] as? [Double])
        for i in 0..<8 { #expect(w.outputNorm[i] == Float(normFirst8[i])) }
    }
}
