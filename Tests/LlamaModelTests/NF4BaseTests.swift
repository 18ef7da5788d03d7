// The NF4 (QLoRA) frozen base: FrozenMatrix over NF4 computes exactly what the fp32 matrix of
// its dequantized values computes; quantize-on-load is bitsandbytes' quantize_4bit of the
// dequantized HF-layout weights; SmolLM2 with an NF4 base gives transformers + bnb's losses
// (Tests/Fixtures/reference/smollm2/qlora_nf4.json) and with `none` the fp32 loss (base.json).

import Foundation
import Testing
import TestSupport
import Kernels
@testable import LlamaModel
@testable import ModelIO
import Quantization

@Suite struct NF4BaseTests {
    /// NF4 and dense matrices of the same values run the same sgemm tiles: equal bit for bit.
    @Test(arguments: [(300, 64, false), (300, 64, true), (37, 24, true), (1000, 96, true)])
    func nf4MatrixComputesLikeItsDequantizedValues(_ rows: Int, _ columns: Int, _ dq: Bool) throws {
        var rng = RandomFloats(state: UInt64(rows * columns))
        let w = rng.values(rows * columns, scale: 0.3)
        let tensor = try NF4Tensor(quantizing: w, shape: [rows, columns], doubleQuantization: dq)
        let nf4 = try FrozenMatrix(name: "w", nf4: tensor)
        let dense = try FrozenMatrix(name: "w", rows: rows, columns: columns, values: tensor.dequantized())
        #expect(try nf4.dequantized() == tensor.dequantized())
        #expect(nf4.storageDescription == (dq ? "NF4+DQ" : "NF4") && dense.storageDescription == "F32")
        #expect(nf4.type == nil && dense.type == .f32 && nf4.scratchCount == dense.scratchCount)

        // A row range in the middle (crossing blocks that span rows when columns < 64).
        let start = rows / 3, count = min(5, rows - start)
        var middle = [Float](repeating: .nan, count: count * columns)
        try nf4.dequantizeRows(start, count: count, into: &middle)
        #expect(middle == Array(tensor.dequantized()[(start * columns)..<((start + count) * columns)]))

        let tokens = 7
        let x = rng.values(tokens * columns, scale: 1)
        let dy = rng.values(tokens * rows, scale: 1)
        var scratch = [Float](repeating: 0, count: nf4.scratchCount)
        var y1 = [Float](repeating: .nan, count: tokens * rows), y2 = y1
        try nf4.linearForward(out: &y1, inp: x, tokens: tokens, scratch: &scratch)
        try dense.linearForward(out: &y2, inp: x, tokens: tokens, scratch: &scratch)
        #expect(y1 == y2)
        var dx1 = [Float](repeating: .nan, count: tokens * columns), dx2 = dx1
        try nf4.linearBackwardInput(dinp: &dx1, dout: dy, tokens: tokens, scratch: &scratch)
        try dense.linearBackwardInput(dinp: &dx2, dout: dy, tokens: tokens, scratch: &scratch)
        #expect(dx1 == dx2)
        // And both agree with an fp64 product of the dequantized values.
        let wq = tensor.dequantized()
        for t in [0, tokens - 1] {
            for r in [0, rows / 2, rows - 1] {
                var e = 0.0
                for c in 0..<columns { e += Double(x[t * columns + c]) * Double(wq[r * columns + c]) }
                #expect(abs(Double(y1[t * rows + r]) - e) <= 1e-5 * Double(columns).squareRoot())
            }
        }
    }

    @Test func storedBytesAndBitsPerParameter() throws {
        let rows = 512, columns = 1024, n = rows * columns
        var rng = RandomFloats(state: 3)
        let w = rng.values(n, scale: 1)
        for dq in [false, true] {
            let m = try FrozenMatrix(name: "w", nf4: NF4Tensor(quantizing: w, shape: [rows, columns], doubleQuantization: dq))
            #expect(m.storedBytes == BaseQuantization.nf4(doubleQuantization: dq).storedBytes(elements: n))
            #expect(abs(m.bitsPerParameter - (m.nf4?.bitsPerParameter ?? 0)) < 1e-12)
            #expect(dq ? abs(m.bitsPerParameter - 4.127) < 0.001 : m.bitsPerParameter == 4.5)
        }
        #expect(BaseQuantization.none.storedBytes(elements: n) == 4 * n)
        #expect(BaseQuantization.stored.storedBytes(elements: n, asStored: 0.625) == n * 5 / 8)
        // `stored` keeps any matrix as it is.
        let dense = try FrozenMatrix(name: "w", rows: rows, columns: columns, values: w)
        #expect(try dense.converted(to: .stored).storageDescription == "F32")
    }

    /// Conversion dequantizes in HF row order (GGUF q/k un-permuted) and quantizes like bnb.
    @Test func convertedIsBitsAndBytesOfTheHFLayoutValues() throws {
        let rows = 24, columns = 32, heads = 2
        var rng = RandomFloats(state: 11)
        let stored = try FrozenMatrix(name: "q", rows: rows, columns: columns, values: rng.values(rows * columns, scale: 1))
        let permuted = try FrozenMatrix(name: "blk.0.attn_q.weight", rows: rows, columns: columns, type: .f32,
                                        bytes: stored.bytes, owner: stored.owner,
                                        rowOrder: ggufRoPERowOrder(rows: rows, heads: heads))
        let hf = try permuted.dequantized()
        for dq in [false, true] {
            let converted = try permuted.converted(to: .nf4(doubleQuantization: dq))
            #expect(converted.nf4 == (try NF4Tensor(quantizing: hf, shape: [rows, columns], doubleQuantization: dq)))
            #expect(converted.name == permuted.name && converted.rowOrder == nil)
        }
        let dense = try permuted.converted(to: .none)
        #expect(try dense.dequantized() == hf && dense.storageDescription == "F32")
        #expect(try dense.converted(to: .none).owner === dense.owner)  // already fp32: kept
    }

    /// Plain → double quant is bnb's compress_statistics of the same absmax; back keeps values.
    @Test func rescalingBetweenPlainAndDoubleQuantized() throws {
        var rng = RandomFloats(state: 5)
        let w = rng.values(64 * 300, scale: 2)
        let plain = try FrozenMatrix(name: "w", nf4: NF4Tensor(quantizing: w, shape: [300, 64], doubleQuantization: false))
        let direct = try NF4Tensor(quantizing: w, shape: [300, 64], doubleQuantization: true)
        let rescaled = try plain.converted(to: BaseQuantization.nf4(doubleQuantization: true))
        #expect(rescaled.nf4 == direct)
        let back = try rescaled.converted(to: BaseQuantization.nf4(doubleQuantization: false))
        #expect(back.storageDescription == "NF4")
        #expect(try back.dequantized() == direct.dequantized())
    }

    /// Only the seven linears change; the result does not depend on the thread count.
    @Test func quantizedBaseConvertsOnlyTheLinears() throws {
        let model = try tinyLlama()
        let one = try model.weights.quantizedBase(.default, threads: 1)
        let three = try model.weights.quantizedBase(.default, threads: 3)
        #expect(one.baseLinearStorageDescription == "NF4+DQ")
        #expect(one.embedding.storageDescription == "F32" && one.output.owner === model.weights.embedding.owner)
        #expect(one.layers[1].ffnNorm === model.weights.layers[1].ffnNorm)
        for (a, b) in zip(one.layers.flatMap(\.linears), three.layers.flatMap(\.linears)) { #expect(a.nf4 == b.nf4) }
        #expect(one.baseLinearParameterCount == model.weights.baseLinearParameterCount)
        #expect(one.baseLinearStoredBytes < model.weights.baseLinearStoredBytes / 6)

        // The NF4 model computes what the fp32 model of the dequantized values computes.
        var dense = one
        for l in dense.layers.indices {
            dense.layers[l].q = try dense.layers[l].q.converted(to: .none)
            dense.layers[l].k = try dense.layers[l].k.converted(to: .none)
            dense.layers[l].v = try dense.layers[l].v.converted(to: .none)
            dense.layers[l].o = try dense.layers[l].o.converted(to: .none)
            dense.layers[l].gate = try dense.layers[l].gate.converted(to: .none)
            dense.layers[l].up = try dense.layers[l].up.converted(to: .none)
            dense.layers[l].down = try dense.layers[l].down.converted(to: .none)
        }
        let ids = [[1, 5, 9, 30, 2, 2, 7, 11]]
        let a = try Llama(config: model.config, weights: one).evaluate(sequences: ids, logitRows: [7])
        let b = try Llama(config: model.config, weights: dense).evaluate(sequences: ids, logitRows: [7])
        #expect(a.loss == b.loss && a.logits == b.logits)
    }

    @Test func nonFiniteWeightsAreNamed() throws {
        var values = [Float](repeating: 0.5, count: 64)
        values[10] = .infinity
        let m = try FrozenMatrix(name: "blk.3.ffn_up.weight", rows: 2, columns: 32, values: values)
        let error = #expect(throws: LlamaModelError.self) { try m.converted(to: .default) }
        #expect(error?.description.contains("blk.3.ffn_up.weight") == true)
    }
}

/// The default model, loaded once per base representation.
private let referenceModels: [BaseQuantization: Result<Llama, Error>] = {
    var out: [BaseQuantization: Result<Llama, Error>] = [:]
    for q in [BaseQuantization.nf4(doubleQuantization: false), .nf4(doubleQuantization: true), .none, .stored] {
        out[q] = Result { try ModelPath(TestPaths.defaultModel.path).load(baseQuantization: q) }
    }
    return out
}()

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct NF4BaseReferenceTests {
    private func ids() throws -> [Int] {
        let text = try #require(try TestPaths.referenceJSON("text.json") as? [String: Any])
        return try #require(text["input_ids"] as? [Int])
    }

    /// transformers + bitsandbytes (fp32 compute): plain 5.429083, double quant 5.438800.
    @Test(arguments: [(false, "plain"), (true, "double_quant")])
    func nf4BaseMatchesBitsAndBytes(_ dq: Bool, _ key: String) throws {
        let reference = try #require(try TestPaths.referenceJSON("qlora_nf4.json") as? [String: Any])
        let entry = try #require(reference[key] as? [String: Any])
        let expectedLoss = try #require(entry["base_loss"] as? Double)
        let expectedLogits = try #require(entry["base_logits_last_first20"] as? [Double])
        let model = try #require(referenceModels[.nf4(doubleQuantization: dq)]).get()
        #expect(model.weights.baseLinearStorageDescription == (dq ? "NF4+DQ" : "NF4"))
        #expect(model.weights.baseLinearParameterCount == 106_168_320)  // 210 matrices
        let bits = model.weights.baseLinearBitsPerParameter
        #expect(dq ? abs(bits - 4.127) < 0.001 : bits == 4.5, "\(bits) bits/parameter")
        // `tessera info` predicts the same bytes without quantizing.
        let summary = try ModelSummary(path: ModelPath(TestPaths.defaultModel.path))
        #expect(summary.linearBytes(.nf4(doubleQuantization: dq)) == model.weights.baseLinearStoredBytes)
        let ids = try ids()
        let result = try model.evaluate(sequences: [ids], logitRows: [ids.count - 1])
        #expect(abs(result.loss - expectedLoss) <= 2e-4, "loss \(result.loss) vs \(expectedLoss)")
        for i in 0..<20 {
            #expect(abs(Double(result.logits[0][i]) - expectedLogits[i]) <= 1e-3, "logit \(i): \(result.logits[0][i]) vs \(expectedLogits[i])")
        }
    }

    /// `none` holds the dequantized stored weights: the fp32 reference loss.
    @Test func noneGivesTheFP32Loss() throws {
        let base = try #require(try TestPaths.referenceJSON("base.json") as? [String: Any])
        let expected = try #require(base["loss"] as? Double)
        let model = try #require(referenceModels[.none]).get()
        #expect(model.weights.baseLinearStorageDescription == "F32")
        let loss = try model.evaluate(sequences: [try ids()]).loss
        #expect(abs(loss - expected) <= 2e-4, "loss \(loss) vs \(expected)")
    }

    /// `stored` keeps the GGUF's Q4_1 blocks (no fp32 copy, no NF4) and, dequantizing them in
    /// the same tiles as `none` holds them, gives `none`'s loss and logits bit for bit.
    @Test func storedKeepsTheFileBlocksAndComputesLikeNone() throws {
        let stored = try #require(referenceModels[.stored]).get()
        let none = try #require(referenceModels[.none]).get()
        #expect(stored.weights.baseLinearStorageDescription == "Q4_1")
        #expect(stored.weights.baseLinearStoredBytes * 6 < none.weights.baseLinearStoredBytes)
        let ids = try ids()
        let a = try stored.evaluate(sequences: [ids], logitRows: [ids.count - 1])
        let b = try none.evaluate(sequences: [ids], logitRows: [ids.count - 1])
        #expect(a.loss == b.loss, "loss \(a.loss) vs \(b.loss)")
        #expect(a.logits[0].map(\.bitPattern) == b.logits[0].map(\.bitPattern))
        let summary = try ModelSummary(path: ModelPath(TestPaths.defaultModel.path))
        #expect(summary.linearBytes(.stored) == stored.weights.baseLinearStoredBytes)
    }
}
