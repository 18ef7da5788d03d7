import Foundation
import Testing
@testable import Kernels

@Suite struct CrossEntropyTests {
    private func reference(logits: [Float], targets: [Int], vocab: Int) -> (losses: [Double], mean: Double) {
        var losses = [Double](repeating: 0, count: targets.count)
        var sum = 0.0, count = 0
        for (n, t) in targets.enumerated() where t != CrossEntropy.ignoreIndex {
            let row = (0..<vocab).map { Double(logits[n * vocab + $0]) }
            let m = row.max() ?? 0
            let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) + m
            losses[n] = lse - row[t]
            sum += losses[n]
            count += 1
        }
        return (losses, sum / Double(count))
    }

    @Test func chunkedMatchesFp64ReferenceAndIgnoresMaskedTargets() {
        var rng = SplitMix64(seed: 61)
        let rows = 23, vocab = 101, chunk = 4
        let logits = rng.floats(rows * vocab, scale: 10)
        var targets = (0..<rows).map { _ in Int(rng.next() % UInt64(vocab)) }
        targets[0] = CrossEntropy.ignoreIndex
        for n in 8..<12 { targets[n] = CrossEntropy.ignoreIndex }  // a whole chunk masked
        var losses = [Float](repeating: .nan, count: rows)
        var scratch = [Float](repeating: 0, count: chunk * vocab)
        var chunksComputed: [Int] = []
        let result = CrossEntropy.chunkedForward(losses: &losses, targets: targets, rows: rows, vocab: vocab,
                                                 chunkRows: chunk, logitsScratch: &scratch) { start, count, out in
            chunksComputed.append(start)
            for i in 0..<(count * vocab) { out[i] = logits[start * vocab + i] }
        }
        let expected = reference(logits: logits, targets: targets, vocab: vocab)
        expectClose(losses, expected.losses, atol: 1e-5, rtol: 1e-5, "losses")
        #expect(result.count == rows - 5)
        #expect(abs(result.sum / Double(result.count) - expected.mean) < 1e-5)
        #expect(!chunksComputed.contains(8), "a fully masked chunk needs no logits")
        #expect(chunksComputed == [0, 4, 12, 16, 20])
    }
}
