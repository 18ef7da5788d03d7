// Quantizing a matrix to NF4 from row tiles, so only one tile of fp32 values exists at a time
// (loading a 70B layer's [28672, 8192] matrix otherwise needs a 0.9 GB fp32 copy per worker).
// NF4 blocks are independent (their own absmax, their own codes): tiles of a multiple of 64 rows
// hold whole blocks, so the bytes equal those of quantizing the whole matrix at once.

extension NF4Tensor {
    /// Rows per tile: about 2²⁰ values (4 MB of fp32), a multiple of 64 so every tile but the
    /// last ends on a block boundary whatever the row length.
    public static func tileRows(columns: Int) -> Int {
        max(64, (1 << 20) / max(columns, 1) / 64 * 64)
    }

    /// Quantizes the `[rows, columns]` matrix whose rows `fill(range, out)` writes into `out`
    /// (`[range.count, columns]`), one tile of `tileRows(columns:)` rows at a time. Equal to
    /// `init(quantizing:shape:doubleQuantization:)` over the whole matrix.
    /// - Throws: `.invalidShape`, `.nonFiniteInput` (with the element's index in the matrix),
    ///   or what `fill` throws.
    public init(rows: Int, columns: Int, doubleQuantization: Bool,
                fill: (Range<Int>, UnsafeMutablePointer<Float>) throws -> Void) throws {
        guard rows > 0, columns > 0, rows.multipliedReportingOverflow(by: columns).overflow == false else {
            throw QuantizationError.invalidShape([rows, columns])
        }
        let n = rows * columns
        let tile = Self.tileRows(columns: columns)
        var packed = [UInt8](repeating: 0, count: (n + 1) / 2)
        var absmax = [Float](repeating: 0, count: (n + NF4.blockSize - 1) / NF4.blockSize)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: min(tile, rows) * columns)
        defer { scratch.deallocate() }
        try packed.withUnsafeMutableBufferPointer { p in
            try absmax.withUnsafeMutableBufferPointer { a in
                guard let pBase = p.baseAddress, let aBase = a.baseAddress else { return }
                for start in stride(from: 0, to: rows, by: tile) {
                    let count = min(tile, rows - start)
                    try fill(start..<(start + count), scratch)
                    let values = count * columns
                    // start·columns is a multiple of 64 (start is), so this tile's blocks and
                    // byte pairs begin at these offsets.
                    let first = start * columns
                    if let i = NF4.quantize(scratch, count: values, packed: pBase + first / 2, absmax: aBase + first / NF4.blockSize) {
                        throw QuantizationError.nonFiniteInput(index: first + i, value: scratch[i])
                    }
                }
            }
        }
        try self.init(shape: [rows, columns], packed: packed,
                      scales: doubleQuantization ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax)) : .plain(absmax))
    }
}
