// Where a tensor-parallel slice of an NF4 matrix sits in the full matrix, in units of 64-element
// blocks. A rank holds rows `firstRow ..< firstRow + rows` and, of each, the column blocks
// `firstColumnBlock ..< firstColumnBlock + blocksPerRow`; when the full row length is a multiple
// of 64 these are the very blocks of the single-rank layout, so codes and absmax agree byte for
// byte. Double quantization needs one more fact per block: its GLOBAL index, because nested
// blocks of 256 run over the full matrix's absmax array in row-major order.
//
// Legend: R = full rows, Kb = blocks per full row (I / 64), r = local rows, kb = local blocks
// per row; local block b = r_local · kb + cb; global = (firstRow + r_local) · Kb + firstColumnBlock + cb.

/// The placement of a sliced NF4 matrix's blocks inside the full matrix.
public struct NF4BlockSlice: Sendable, Equatable, CustomStringConvertible {
    /// Global row of local row 0.
    public let firstRow: Int
    /// Local rows `r`.
    public let rows: Int
    /// Global column block of local column block 0.
    public let firstColumnBlock: Int
    /// Local blocks per row `kb`.
    public let blocksPerRow: Int
    /// Blocks per full row `Kb`.
    public let blocksPerFullRow: Int
    /// The first global nested block (of 256 absmax entries) the slice touches.
    public let firstNestedBlock: Int

    /// A slice of rows `rows` and column blocks `columnBlocks` of a matrix whose rows hold
    /// `blocksPerFullRow` blocks. The ranges are the caller's validated shard (a bad one is a
    /// programmer error).
    public init(rows: Range<Int>, columnBlocks: Range<Int>, blocksPerFullRow: Int) {
        precondition(!rows.isEmpty && rows.lowerBound >= 0, "NF4BlockSlice: empty or negative row range")
        precondition(!columnBlocks.isEmpty && columnBlocks.lowerBound >= 0 && columnBlocks.upperBound <= blocksPerFullRow,
                     "NF4BlockSlice: column blocks \(columnBlocks) outside 0..<\(blocksPerFullRow)")
        firstRow = rows.lowerBound
        self.rows = rows.count
        firstColumnBlock = columnBlocks.lowerBound
        blocksPerRow = columnBlocks.count
        self.blocksPerFullRow = blocksPerFullRow
        firstNestedBlock = (rows.lowerBound * blocksPerFullRow + columnBlocks.lowerBound) / DoubleQuantizedAbsmax.blockSize
    }

    /// Local blocks `r · kb`.
    public var count: Int { rows * blocksPerRow }

    /// The global index of local block `b`.
    @inline(__always)
    public func globalBlock(_ b: Int) -> Int {
        let r = b / blocksPerRow
        return (firstRow + r) * blocksPerFullRow + firstColumnBlock + (b - r * blocksPerRow)
    }

    /// Global nested blocks the slice touches (its first and last blocks bound them, since
    /// global indices grow with the local index).
    public var nestedBlocks: Range<Int> {
        firstNestedBlock..<(globalBlock(count - 1) / DoubleQuantizedAbsmax.blockSize + 1)
    }

    /// Index into a slice's stored `nestedAbsmax` (which starts at `firstNestedBlock`).
    @inline(__always)
    func nestedIndex(ofLocalBlock b: Int) -> Int {
        globalBlock(b) / DoubleQuantizedAbsmax.blockSize - firstNestedBlock
    }

    public var description: String {
        "rows \(firstRow)..<\(firstRow + rows), column blocks \(firstColumnBlock)..<\(firstColumnBlock + blocksPerRow) of \(blocksPerFullRow)"
    }
}
