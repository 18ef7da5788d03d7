import Testing
@testable import LlamaModel
@testable import ModelIO

@Suite struct FrozenMatrixTests {
    /// llama.cpp's converter: `w.reshape(heads, 2, D/2, I).swapaxes(1, 2).reshape(w.shape)`.
    private func ggufPermute(_ hf: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
        let d = rows / heads
        var out = hf
        for h in 0..<heads {
            for s in 0..<2 {
                for i in 0..<(d / 2) {
                    // stored index (h, i, s) ← hf index (h, s, i)
                    let stored = h * d + i * 2 + s, source = h * d + s * (d / 2) + i
                    for c in 0..<columns { out[stored * columns + c] = hf[source * columns + c] }
                }
            }
        }
        return out
    }

    @Test func rowOrderUndoesTheGGUFPermutation() throws {
        let rows = 24, columns = 3, heads = 3
        let hf = (0..<(rows * columns)).map { Float($0) }
        let stored = ggufPermute(hf, rows: rows, columns: columns, heads: heads)
        #expect(stored != hf)
        let base = try FrozenMatrix(name: "q", rows: rows, columns: columns, values: stored)
        let m = try FrozenMatrix(name: "q", rows: rows, columns: columns, type: .f32, bytes: base.bytes,
                                 owner: base.owner, rowOrder: ggufRoPERowOrder(rows: rows, heads: heads))
        #expect(try m.dequantized() == hf)
        var middle = [Float](repeating: 0, count: 5 * columns)
        try m.dequantizeRows(7, count: 5, into: &middle)
        #expect(middle == Array(hf[(7 * columns)..<(12 * columns)]))
    }

    @Test(arguments: [(2, 17_000, 64), (3, 300, 4096), (1, 17, 32)])   // 2 tiles, 2 tiles, 1
    func linearForwardMatchesNaiveAcrossTiles(_ tokens: Int, _ rows: Int, _ columns: Int) throws {
        var rng = RandomFloats(state: 9)
        let w = rng.values(rows * columns, scale: 1)
        let x = rng.values(tokens * columns, scale: 1)
        let m = try FrozenMatrix(name: "w", rows: rows, columns: columns, values: w)
        #expect(m.tileRows < rows || rows * columns <= FrozenMatrix.tileFloats)
        var scratch = [Float](repeating: 0, count: m.scratchCount)
        // Accumulate into a wider output (ldOut > rows, beta = 1).
        let ld = rows + 3
        let initial = rng.values(tokens * ld, scale: 1)
        var y = initial
        try m.linearForward(out: &y, ldOut: ld, inp: x, tokens: tokens, scratch: &scratch, beta: 1)
        for t in 0..<tokens {
            for r in 0..<ld {
                var expected = Double(initial[t * ld + r])
                if r < rows { for c in 0..<columns { expected += Double(x[t * columns + c]) * Double(w[r * columns + c]) } }
                #expect(abs(Double(y[t * ld + r]) - expected) <= 1e-4 * Double(columns).squareRoot(), "t=\(t) r=\(r)")
            }
        }
    }

    @Test(arguments: [(2, 17_000, 64), (2, 5, 32)])
    func linearBackwardInputIsTheTransposeProduct(_ tokens: Int, _ rows: Int, _ columns: Int) throws {
        var rng = RandomFloats(state: 10)
        let w = rng.values(rows * columns, scale: 1)
        let dy = rng.values(tokens * rows, scale: 1)
        let m = try FrozenMatrix(name: "w", rows: rows, columns: columns, values: w)
        var scratch = [Float](repeating: 0, count: m.scratchCount)
        var dx = [Float](repeating: .nan, count: tokens * columns)  // overwritten with beta = 0
        try m.linearBackwardInput(dinp: &dx, dout: dy, tokens: tokens, scratch: &scratch)
        for t in 0..<tokens {
            for c in 0..<columns {
                var expected = 0.0
                for r in 0..<rows { expected += Double(dy[t * rows + r]) * Double(w[r * columns + c]) }
                #expect(abs(Double(dx[t * columns + c]) - expected) <= 1e-4 * Double(rows).squareRoot(), "t=\(t) c=\(c)")
            }
        }
    }

    @Test func rejectsBadGeometry() throws {
        let storage = try FrozenMatrix(name: "x", rows: 2, columns: 32, values: .init(repeating: 0, count: 64))
        #expect(throws: LlamaModelError.self) {
            try FrozenMatrix(name: "blk.0.attn_q.weight", rows: 2, columns: 16, type: .q4_0, bytes: storage.bytes, owner: storage.owner)
        }
        #expect(throws: LlamaModelError.self) {
            try FrozenMatrix(name: "blk.0.attn_q.weight", rows: 3, columns: 32, type: .f32, bytes: storage.bytes, owner: storage.owner)
        }
    }
}
