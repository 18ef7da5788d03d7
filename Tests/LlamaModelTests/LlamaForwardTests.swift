import Foundation
import Kernels
import Testing
@testable import LlamaModel
@testable import ModelIO

/// The whole forward on a tiny random model: against a naive fp64 transformer (full causal and
/// with a sliding window), with a KV cache, with several sequences in one batch, with masked labels.
@Suite struct LlamaForwardTests {
    /// Naive fp64 Llama forward of one sequence: logits [T][V]. With `config.attentionWindow` W,
    /// query t attends to keys t − W < j ≤ t.
    private func referenceLogits(_ model: Llama, _ ids: [Int]) throws -> [[Double]] {
        let cfg = model.config, w = model.weights
        let c = cfg.hiddenSize, d = cfg.headDim, h = cfg.numAttentionHeads, g = cfg.numKeyValueHeads
        func mat(_ m: FrozenMatrix) throws -> [[Double]] {
            let v = try m.dequantized().map(Double.init)
            return (0..<m.rows).map { Array(v[($0 * m.columns)..<(($0 + 1) * m.columns)]) }
        }
        func linear(_ x: [Double], _ m: [[Double]], _ b: FloatBuffer?) -> [Double] {
            m.enumerated().map { r, row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } + Double(b?[r] ?? 0) }
        }
        func rms(_ x: [Double], _ weight: FloatBuffer) -> [Double] {
            let r = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + cfg.rmsNormEps).squareRoot()
            return x.enumerated().map { $1 * r * Double(weight[$0]) }
        }
        func rope(_ x: [Double], _ p: Int, heads: Int) -> [Double] {
            var y = x
            for hh in 0..<heads {
                for i in 0..<(d / 2) {
                    let a = Double(p) / Foundation.pow(cfg.ropeTheta, Double(2 * i) / Double(d))
                    let x1 = x[hh * d + i], x2 = x[hh * d + i + d / 2]
                    y[hh * d + i] = x1 * Foundation.cos(a) - x2 * Foundation.sin(a)
                    y[hh * d + i + d / 2] = x2 * Foundation.cos(a) + x1 * Foundation.sin(a)
                }
            }
            return y
        }
        let embed = try mat(w.embedding)
        var xs = ids.map { embed[$0] }
        for layer in w.layers {
            let (wq, wk, wv, wo) = (try mat(layer.q), try mat(layer.k), try mat(layer.v), try mat(layer.o))
            let (wg, wu, wd) = (try mat(layer.gate), try mat(layer.up), try mat(layer.down))
            let normed = xs.map { rms($0, layer.attentionNorm) }
            let qs = normed.enumerated().map { rope(linear($1, wq, layer.qBias), $0, heads: h) }
            let ks = normed.enumerated().map { rope(linear($1, wk, layer.kBias), $0, heads: g) }
            let vs = normed.map { linear($0, wv, layer.vBias) }
            for t in 0..<ids.count {
                var att = [Double](repeating: 0, count: h * d)
                for hh in 0..<h {
                    let kv = hh / (h / g)
                    let first = cfg.attentionWindow.map { max(0, t + 1 - $0) } ?? 0
                    let scores = (first...t).map { j in
                        (0..<d).reduce(0.0) { $0 + qs[t][hh * d + $1] * ks[j][kv * d + $1] } / Double(d).squareRoot()
                    }
                    let m = scores.max() ?? 0
                    let e = scores.map { Foundation.exp($0 - m) }
                    let s = e.reduce(0, +)
                    for i in 0..<d { att[hh * d + i] = (first...t).reduce(0.0) { $0 + e[$1 - first] / s * vs[$1][kv * d + i] } }
                }
                xs[t] = zip(xs[t], linear(att, wo, nil)).map { $0 + $1 }
            }
            for t in 0..<ids.count {
                let n = rms(xs[t], layer.ffnNorm)
                let gate = linear(n, wg, nil), up = linear(n, wu, nil)
                let hidden = zip(gate, up).map { $0 / (1 + Foundation.exp(-$0)) * $1 }
                xs[t] = zip(xs[t], linear(hidden, wd, nil)).map { $0 + $1 }
            }
        }
        let head = try mat(w.output)
        return xs.map { linear(rms($0, w.outputNorm), head, nil) }
    }

    private let ids = [3, 17, 0, 36, 5, 5, 22, 9, 11]

    @Test(arguments: [false, true])
    func matchesFp64Transformer(withBias: Bool) throws {
        let model = try tinyLlama(config: tinyConfig(bias: withBias))
        let expected = try referenceLogits(model, ids)
        let result = try model.evaluate(sequences: [ids], logitRows: Array(0..<ids.count))
        var lossSum = 0.0
        for t in 0..<ids.count {
            for v in 0..<model.config.vocabSize {
                #expect(abs(Double(result.logits[t][v]) - expected[t][v]) <= 1e-4 * max(1, abs(expected[t][v])), "t=\(t) v=\(v)")
            }
            if t + 1 < ids.count {
                let m = expected[t].max() ?? 0
                lossSum += Foundation.log(expected[t].reduce(0) { $0 + Foundation.exp($1 - m) }) + m - expected[t][ids[t + 1]]
            }
        }
        #expect(result.countedTargets == ids.count - 1)
        #expect(abs(result.loss - lossSum / Double(ids.count - 1)) < 1e-4)
    }

    /// Sequences longer than one attention query block (64) and a cache continuing past one.
    /// 150 tokens over three query blocks of 64, full causal and with a Mistral window of 37.
    @Test(arguments: [nil, 37] as [Int?])
    func longSequenceMatchesFp64AcrossQueryBlocks(window: Int?) throws {
        var model = try tinyLlama()
        if let window {
            var config = model.config
            (config.architecture, config.slidingWindow) = (.mistral, window)
            model = try Llama(config: config, weights: model.weights)
            #expect(model.config.attentionWindow == window)
        }
        var rng = RandomFloats(state: 3)
        let long = (0..<150).map { _ in Int((rng.next() + 1) * 18) % model.config.vocabSize }
        let expected = try referenceLogits(model, long)
        let rows = [0, 63, 64, 100, 149]
        let result = try model.evaluate(sequences: [long], logitRows: rows)
        for (slot, t) in rows.enumerated() {
            for v in 0..<model.config.vocabSize {
                #expect(abs(Double(result.logits[slot][v]) - expected[t][v]) <= 1e-4 * max(1, abs(expected[t][v])), "t=\(t)")
            }
        }
        // 70 cached positions, then an 80-token block attending to them.
        let cache = KVCache(model: model, capacity: 150)
        let ws = LlamaWorkspace(model: model, maxTokens: 80, maxKeys: 150)
        for (start, count) in [(0, 70), (70, 80)] {
            for i in 0..<count { ws.positions[i] = start + i }
            try Array(long[start..<(start + count)]).withUnsafeBufferPointer {
                try model.forwardHidden(ids: $0.baseAddress!, tokens: count, segments: [0..<count], cache: cache, workspace: ws)
            }
        }
        try model.headLogits(start: 79, count: 1, into: ws.logits.pointer, workspace: ws)
        for v in 0..<model.config.vocabSize {
            #expect(abs(Double(ws.logits[v]) - expected[149][v]) <= 1e-4 * max(1, abs(expected[149][v])))
        }
    }

    @Test func kvCacheStepsEqualOneFullPass() throws {
        let model = try tinyLlama()
        let full = try model.evaluate(sequences: [ids], logitRows: Array(0..<ids.count))
        let cache = KVCache(model: model, capacity: ids.count)
        let ws = LlamaWorkspace(model: model, maxTokens: 4, maxKeys: ids.count)
        // A 4-token prompt, then one token at a time.
        var start = 0
        for chunk in [4, 1, 1, 1, 1, 1] {
            let part = Array(ids[start..<(start + chunk)])
            for i in 0..<chunk { ws.positions[i] = start + i }
            try part.withUnsafeBufferPointer {
                try model.forwardHidden(ids: $0.baseAddress!, tokens: chunk, segments: [0..<chunk], cache: cache, workspace: ws)
            }
            for i in 0..<chunk {
                try model.headLogits(start: i, count: 1, into: ws.logits.pointer, workspace: ws)
                let got = Array(UnsafeBufferPointer(start: ws.logits.pointer, count: model.config.vocabSize))
                for v in got.indices { #expect(abs(got[v] - full.logits[start + i][v]) <= 1e-4, "position \(start + i)") }
            }
            start += chunk
        }
        #expect(cache.count == ids.count)
    }

    @Test func ropeFrequencyFactorsDivideTheFrequencies() throws {
        let base = try tinyLlama()
        var weights = base.weights
        weights.ropeFrequencyFactors = [1, 2]
        let scaled = try Llama(config: base.config, weights: weights)
        #expect(scaled.rope.invFreq[0] == base.rope.invFreq[0])
        #expect(scaled.rope.invFreq[1] == base.rope.invFreq[1] / 2)
        weights.ropeFrequencyFactors = [1]
        #expect(throws: LlamaModelError.self) { try Llama(config: base.config, weights: weights) }
    }

    @Test func batchedSequencesAreIndependent() throws {
        let model = try tinyLlama()
        let a = Array(ids.prefix(6)), b = [1, 2, 3, 4]
        let ra = try model.evaluate(sequences: [a], logitRows: [5])
        let rb = try model.evaluate(sequences: [b], logitRows: [3])
        let ws = LlamaWorkspace(model: model, maxTokens: 10)
        let both = try model.evaluate(sequences: [a, b], logitRows: [5, 9], workspace: ws)
        #expect(both.countedTargets == ra.countedTargets + rb.countedTargets)
        #expect(abs(both.lossSum - (ra.lossSum + rb.lossSum)) < 1e-4)
        for v in 0..<model.config.vocabSize {
            #expect(abs(both.logits[0][v] - ra.logits[0][v]) < 1e-5)
            #expect(abs(both.logits[1][v] - rb.logits[0][v]) < 1e-5)
        }
    }

    /// `forEachLogitChunk` (eval --logits) streams every row of a batch in order, in chunks of
    /// the workspace's head rows, with the same values as `evaluate(logitRows:)`.
    @Test func logitChunksCoverEveryRowInOrder() throws {
        let model = try tinyLlama()
        let sequences = [Array(ids.prefix(6)), [1, 2, 3, 4], ids]
        let rows = sequences.reduce(0) { $0 + $1.count }
        let expected = try model.evaluate(sequences: sequences, logitRows: Array(0..<rows)).logits
        let ws = LlamaWorkspace(model: model, maxTokens: rows)
        var next = 0
        try model.forEachLogitChunk(sequences: sequences, workspace: ws) { first, count, logits in
            #expect(first == next && count >= 1 && count <= ws.logitRows)
            for r in 0..<count {
                let got = Array(UnsafeBufferPointer(start: logits + r * model.config.vocabSize, count: model.config.vocabSize))
                #expect(got == expected[first + r], "row \(first + r)")
            }
            next = first + count
        }
        #expect(next == rows)
        #expect(throws: LlamaModelError.self) { try model.forEachLogitChunk(sequences: [[model.config.vocabSize]]) { _, _, _ in } }
    }

    @Test func maskedLabelsAreNotCounted() throws {
        let model = try tinyLlama()
        var labels = ids
        for i in 0..<5 { labels[i] = CrossEntropy.ignoreIndex }  // targets of tokens 0..<4 are ignored
        let masked = try model.evaluate(sequences: [ids], labels: [labels], logitRows: [0])
        #expect(masked.countedTargets == ids.count - 5)
        let full = try model.evaluate(sequences: [ids], logitRows: [0])
        // The logits of a row whose chunk was skipped by the loss are still computed.
        #expect(masked.logits[0] == full.logits[0])
    }

    @Test func badInputIsATypedError() throws {
        let model = try tinyLlama()
        #expect(throws: LlamaModelError.invalidInput("token id 37 at index 1 is outside the vocabulary 0..<37")) {
            try model.evaluate(sequences: [[1, 37]])
        }
        #expect(throws: LlamaModelError.self) { try model.evaluate(sequences: [[1, 2]], labels: [[1]]) }
        #expect(throws: LlamaModelError.self) { try model.generate(prompt: Array(repeating: 1, count: 250), maxNewTokens: 10) }
    }

    @Test func greedyGenerationEqualsArgmaxOfFullPasses() throws {
        let model = try tinyLlama()
        let prompt = [3, 17, 0]
        let generated = try model.generate(prompt: prompt, maxNewTokens: 6)
        var sequence = prompt
        for token in generated {
            let r = try model.evaluate(sequences: [sequence], logitRows: [sequence.count - 1])
            let best = r.logits[0].indices.max { r.logits[0][$0] < r.logits[0][$1] || (r.logits[0][$0] == r.logits[0][$1] && $0 > $1) }
            #expect(token == best)
            sequence.append(token)
        }
        // Generation ends at (and includes) the first stop token.
        let stop = generated[generated.count - 1]
        let firstStop = try #require(generated.firstIndex(of: stop))
        let stopped = try model.generate(prompt: prompt, maxNewTokens: 6, stopTokens: [stop])
        #expect(stopped == Array(generated.prefix(through: firstStop)))
        // Streaming: every id is reported, and returning false stops.
        var streamed: [Int] = []
        let early = try model.generate(prompt: prompt, maxNewTokens: 6) { streamed.append($0); return streamed.count < 3 }
        #expect(early == Array(generated.prefix(3)) && streamed == early)
    }
}
