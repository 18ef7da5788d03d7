import Foundation
import Testing
@testable import Kernels

@Suite struct CrossEntropyBackwardTests {
    /// fp64 sum of the counted rows' `logsumexp(logits) - logits[target]`.
    private func lossSum(_ logits: [Double], targets: [Int], vocab: Int) -> Double {
        var total = 0.0
        for (n, t) in targets.enumerated() where t != CrossEntropy.ignoreIndex {
            let row = logits[(n * vocab)..<((n + 1) * vocab)]
            let m = row.max() ?? 0
            total += Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) + m - row[n * vocab + t]
        }
        return total
    }

    @Test func dlogitsMatchFiniteDifferencesAndInPlace() {
        var rng = SplitMix64(seed: 161)
        let rows = 6, vocab = 11
        let logits = rng.floats(rows * vocab, scale: 5)
        var targets = (0..<rows).map { _ in Int(rng.next() % UInt64(vocab)) }
        targets[2] = CrossEntropy.ignoreIndex
        let scale: Float = 0.37
        var dlogits = [Float](repeating: .nan, count: rows * vocab)
        var losses = [Float](repeating: .nan, count: rows)
        let result = CrossEntropy.forwardBackward(dlogits: &dlogits, losses: &losses, logits: logits, targets: targets,
                                                  rows: rows, vocab: vocab, lossScale: scale)
        expectGradient(dlogits, at: logits, "dlogits") { Double(scale) * lossSum($0, targets: targets, vocab: vocab) }
        #expect(result.count == rows - 1)
        #expect(abs(result.sum - lossSum(logits.map(Double.init), targets: targets, vocab: vocab)) < 1e-5)
        #expect(dlogits[(2 * vocab)..<(3 * vocab)].allSatisfy { $0 == 0 }, "ignored row")
        // Same losses as the forward, and the in-place form gives the same gradient.
        var forwardLosses = [Float](repeating: 0, count: rows)
        CrossEntropy.forward(losses: &forwardLosses, logits: logits, targets: targets, rows: rows, vocab: vocab)
        #expect(forwardLosses == losses)
        let buffer = FloatBuffer(logits)
        CrossEntropy.forwardBackward(dlogits: buffer.pointer, losses: &losses, logits: buffer.pointer, targets: targets,
                                     rows: rows, vocab: vocab, lossScale: scale)
        #expect(buffer.array == dlogits)
    }

    /// Head `logits = x · Wᵀ` with the mean loss over counted rows; 23 rows in chunks of 4 (the
    /// last chunk short), ignored labels including one whole chunk. Checks dx (written by the
    /// closure), dW (accumulated by the closure) and the skipped chunk's zeroed rows.
    @Test func chunkedHeadGradientsMatchFiniteDifferences() {
        var rng = SplitMix64(seed: 162)
        let rows = 23, channels = 5, vocab = 13, chunk = 4
        let x = rng.floats(rows * channels, scale: 2)
        let w = rng.floats(vocab * channels)
        var targets = (0..<rows).map { _ in Int(rng.next() % UInt64(vocab)) }
        targets[0] = CrossEntropy.ignoreIndex
        targets[21] = CrossEntropy.ignoreIndex
        for n in 8..<12 { targets[n] = CrossEntropy.ignoreIndex }
        let counted = Double(rows - 6)

        func logits(_ xd: [Double], _ wd: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: rows * vocab)
            for n in 0..<rows {
                for v in 0..<vocab {
                    var sum = 0.0
                    for c in 0..<channels { sum += xd[n * channels + c] * wd[v * channels + c] }
                    out[n * vocab + v] = sum
                }
            }
            return out
        }

        var losses = [Float](repeating: .nan, count: rows)
        var dx = [Float](repeating: .nan, count: rows * channels)
        var dw = [Float](repeating: 0, count: vocab * channels)
        var scratch = [Float](repeating: 0, count: chunk * vocab)
        var backpropagated: [Int] = []
        let result = w.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                dw.withUnsafeMutableBufferPointer { dwp in
                    CrossEntropy.chunkedForwardBackward(
                        losses: &losses, dinp: &dx, targets: targets, rows: rows, vocab: vocab, channels: channels,
                        chunkRows: chunk, logitsScratch: &scratch,
                        computeLogits: { start, count, out in
                            // logits [count, V] = x [count, C] · Wᵀ [C, V]
                            sgemm(.none, .transposed, m: count, n: vocab, k: channels,
                                  a: xp.baseAddress! + start * channels, b: wp.baseAddress!, c: out)
                        },
                        backpropagate: { start, count, dlogits, dinp in
                            backpropagated.append(start)
                            // dx [count, C] = dlogits [count, V] · W [V, C]
                            sgemm(.none, .none, m: count, n: channels, k: vocab,
                                  a: dlogits, b: wp.baseAddress!, c: dinp)
                            // dW [V, C] += dlogitsᵀ [V, count] · x [count, C]
                            sgemm(.transposed, .none, m: vocab, n: channels, k: count,
                                  a: dlogits, b: xp.baseAddress! + start * channels, beta: 1, c: dwp.baseAddress!)
                        })
                }
            }
        }
        let xd = x.map(Double.init), wd = w.map(Double.init)
        #expect(result.count == rows - 6)
        #expect(abs(result.sum / counted - lossSum(logits(xd, wd), targets: targets, vocab: vocab) / counted) < 1e-5)
        #expect(backpropagated == [0, 4, 12, 16, 20])
        #expect(dx[(8 * channels)..<(12 * channels)].allSatisfy { $0 == 0 }, "skipped chunk's dx zeroed")
        #expect(dx[0..<channels].allSatisfy { $0 == 0 }, "ignored row in a counted chunk")
        expectGradient(dx, at: x, "dx") { lossSum(logits($0, wd), targets: targets, vocab: vocab) / counted }
        expectGradient(dw, at: w, "dW") { lossSum(logits(xd, $0), targets: targets, vocab: vocab) / counted }
    }

    @Test func explicitLossScaleAndAllIgnored() {
        var rng = SplitMix64(seed: 163)
        let rows = 5, vocab = 7
        let logits = rng.floats(rows * vocab)
        let targets = [1, CrossEntropy.ignoreIndex, 3, 0, 6]
        var losses = [Float](repeating: 0, count: rows)
        var scratch = [Float](repeating: 0, count: 2 * vocab)
        var byMean = [Float](repeating: 0, count: rows * vocab)
        var byScale = byMean
        for (lossScale, out) in [(nil, 0), (Float(1) / 4, 1)] as [(Float?, Int)] {
            var dx = [Float](repeating: .nan, count: rows * vocab)
            _ = CrossEntropy.chunkedForwardBackward(
                losses: &losses, dinp: &dx, targets: targets, rows: rows, vocab: vocab, channels: vocab, chunkRows: 2,
                logitsScratch: &scratch, lossScale: lossScale,
                computeLogits: { start, count, out in
                    for i in 0..<(count * vocab) { out[i] = logits[start * vocab + i] }
                },
                backpropagate: { _, count, dlogits, dinp in dinp.update(from: dlogits, count: count * vocab) })
            if out == 0 { byMean = dx } else { byScale = dx }
        }
        #expect(byMean == byScale, "nil scale is 1 / counted rows")

        let ignored = [Int](repeating: CrossEntropy.ignoreIndex, count: rows)
        var dx = [Float](repeating: .nan, count: rows * 3)
        let result = CrossEntropy.chunkedForwardBackward(
            losses: &losses, dinp: &dx, targets: ignored, rows: rows, vocab: vocab, channels: 3, chunkRows: 2,
            logitsScratch: &scratch,
            computeLogits: { _, _, _ in Issue.record("no logits needed") },
            backpropagate: { _, _, _, _ in Issue.record("nothing to backpropagate") })
        #expect(result.count == 0 && result.sum == 0)
        #expect(dx.allSatisfy { $0 == 0 } && losses.allSatisfy { $0 == 0 })
    }
}
