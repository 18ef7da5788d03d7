// NF4Tensor+Tiles.swift: quantizing row tiles must give the bytes of quantizing the whole matrix
// (blocks are independent and tiles end on block boundaries), including blocks that span rows, a
// short last block and an odd element count.

import Testing
@testable import Quantization

@Suite struct NF4TilesTests {
    /// 129 × 32769: 64-row tiles (three of them), rows not a multiple of 64 long, so blocks span
    /// rows; 4,227,201 elements: odd, and the last block holds one value.
    @Test(arguments: [false, true])
    func tilesEqualTheWholeMatrix(_ doubleQuantization: Bool) throws {
        let rows = 129, columns = 32769
        #expect(NF4Tensor.tileRows(columns: columns) == 64)
        let values = (0..<(rows * columns)).map { i in Float((i &* 2_654_435_761) % 1999) / 1999 - 0.5 }
        let whole = try NF4Tensor(quantizing: values, shape: [rows, columns], doubleQuantization: doubleQuantization)
        var tiles: [Range<Int>] = []
        let tiled = try NF4Tensor(rows: rows, columns: columns, doubleQuantization: doubleQuantization) { range, out in
            tiles.append(range)
            for i in 0..<(range.count * columns) { out[i] = values[range.lowerBound * columns + i] }
        }
        #expect(tiles == [0..<64, 64..<128, 128..<129])
        #expect(tiled == whole)
    }

    @Test func nonFiniteValuesAreNamedByTheirIndexInTheMatrix() throws {
        #expect(throws: QuantizationError.nonFiniteInput(index: 70 * 100 + 3, value: .infinity)) {
            try NF4Tensor(rows: 80, columns: 100, doubleQuantization: true) { range, out in
                for i in 0..<(range.count * 100) { out[i] = range.lowerBound * 100 + i == 7003 ? .infinity : 0.1 }
            }
        }
    }
}
