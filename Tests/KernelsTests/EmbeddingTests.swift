import Testing
@testable import Kernels

@Suite struct EmbeddingTests {
    @Test func looksUpRowsAndZeroesOtherShards() {
        let channels = 5, vocab = 10
        let table = (0..<(vocab * channels)).map { Float($0) }
        let ids = [3, 7, 0, 9, 5]
        // This rank holds rows 4..<8 of the table.
        var out = [Float](repeating: -1, count: ids.count * channels)
        Embedding.forward(out: &out, ids: ids, tokens: ids.count, channels: channels,
                          vocabStart: 4, vocabLocal: 4) { row, destination in
            for c in 0..<channels { destination[c] = table[(row + 4) * channels + c] }
        }
        for (n, id) in ids.enumerated() {
            let got = Array(out[(n * channels)..<((n + 1) * channels)])
            let expected = (4..<8).contains(id) ? Array(table[(id * channels)..<((id + 1) * channels)]) : [Float](repeating: 0, count: channels)
            #expect(got == expected, "token \(n) id \(id)")
        }
    }
}
