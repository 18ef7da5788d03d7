// A rectangular slice of a frozen matrix in its stored form, for tensor-parallel loading: a row
// slice (q, k, v, gate, up, embedding, head) or a column slice (o, down) of the HF-order matrix.
//   - GGML blocks: a row slice of rows that are contiguous in the file stays a view of the
//     mapping (GGUF's permuted q/k rows: whole heads map to a contiguous run of stored rows, so
//     the view keeps a relative row order); otherwise only the needed byte ranges of each
//     stored row are copied. A column slice must start and end on the format's block boundary.
//   - NF4: the same codes and scales for the slice's 64-blocks (NF4BlockSlice), which needs
//     the row length and the column bounds on multiples of 64.
//   - fp32: the slice's values are copied.
// No full matrix is ever expanded: at most the slice's bytes are touched.
// Legend: O = rows, I = columns of the full matrix; r, c = the slice's rows and columns.

import Kernels
import Quantization

extension FrozenMatrix {
    /// HF rows `rows` and columns `columns` of this matrix, stored as this matrix is (see the
    /// file header). The whole range returns `self`.
    /// - Throws: `LlamaModelError.invalidWeights` naming the matrix when a range is empty or
    ///   outside the matrix, or a column bound is not on the storage's block boundary.
    public func sliced(rows: Range<Int>, columns: Range<Int>) throws -> FrozenMatrix {
        guard !rows.isEmpty, !columns.isEmpty, rows.lowerBound >= 0, rows.upperBound <= self.rows,
              columns.lowerBound >= 0, columns.upperBound <= self.columns else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(self.rows), \(self.columns)]: slice rows \(rows), columns \(columns) is empty or outside the matrix")
        }
        if rows == 0..<self.rows, columns == 0..<self.columns { return self }
        switch storage {
        case .blocks(let type, let bytes, let owner, let rowOrder):
            return try slicedBlocks(type: type, bytes: bytes, owner: owner, rowOrder: rowOrder, rows: rows, columns: columns)
        case .dense(let buffer):
            let out = FloatBuffer(count: rows.count * columns.count)   // [r, c]
            for (i, row) in rows.enumerated() {
                (out.pointer + i * columns.count).update(from: buffer.pointer + row * self.columns + columns.lowerBound, count: columns.count)
            }
            return FrozenMatrix(name: name, rows: rows.count, columns: columns.count, dense: out)
        case .nf4(let tensor):
            let slice = try nf4BlockSlice(rows: rows, columns: columns)
            return try FrozenMatrix(name: name, nf4: tensor.sliced(slice))
        }
    }

    /// The 64-block placement of a slice, refusing one whose blocks are not blocks of the full
    /// matrix (then the slice's NF4 bytes could not equal the single-rank bytes).
    public func nf4BlockSlice(rows: Range<Int>, columns: Range<Int>) throws -> NF4BlockSlice {
        try Self.nf4BlockSlice(name: name, fullRows: self.rows, fullColumns: self.columns, rows: rows, columns: columns)
    }

    /// `nf4BlockSlice(rows:columns:)` of a `[fullRows, fullColumns]` matrix that need not exist
    /// (random weights generate only the slice).
    public static func nf4BlockSlice(name: String, fullRows: Int, fullColumns: Int, rows: Range<Int>,
                                     columns: Range<Int>) throws -> NF4BlockSlice {
        let block = NF4.blockSize
        guard fullColumns % block == 0, columns.lowerBound % block == 0, columns.upperBound % block == 0 else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(fullRows), \(fullColumns)]: a tensor-parallel slice (columns \(columns)) needs the row length and the column bounds on multiples of the NF4 block size \(block), so each rank quantizes the same blocks as one rank would; choose a tp whose shard boundaries fall on multiples of \(block) or use --tp 1")
        }
        return NF4BlockSlice(rows: rows, columnBlocks: (columns.lowerBound / block)..<(columns.upperBound / block),
                             blocksPerFullRow: fullColumns / block)
    }

    private func slicedBlocks(type: GGMLType, bytes: UnsafeRawBufferPointer, owner: AnyObject, rowOrder: [Int]?,
                              rows: Range<Int>, columns: Range<Int>) throws -> FrozenMatrix {
        let block = type.blockElements
        guard columns.lowerBound % block == 0, columns.upperBound % block == 0,
              let rowBytes = type.byteCount(elements: self.columns),
              let skipBytes = type.byteCount(elements: columns.lowerBound),
              let sliceRowBytes = type.byteCount(elements: columns.count) else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(self.rows), \(self.columns)] is stored as \(type), whose blocks hold \(block) values: a tensor-parallel column slice \(columns) must start and end on a multiple of \(block); choose a tp whose shard boundaries fall on such multiples or use --tp 1")
        }
        let stored = rows.map { rowOrder?[$0] ?? $0 }   // file row of each slice row
        let low = stored.min() ?? 0
        if columns == 0..<self.columns, let high = stored.max(), high - low + 1 == rows.count {
            // Whole rows forming a contiguous run in the file: a view, no copy.
            let view = UnsafeRawBufferPointer(rebasing: bytes[(low * rowBytes)..<((high + 1) * rowBytes)])
            let relative = stored.map { $0 - low }
            let identity = relative.enumerated().allSatisfy { $0.offset == $0.element }
            return try FrozenMatrix(name: name, rows: rows.count, columns: columns.count, type: type, bytes: view,
                                    owner: owner, rowOrder: identity ? nil : relative)
        }
        // Copy only the slice's byte range of each stored row, in HF row order.
        let copy = OwnedBytes(count: rows.count * sliceRowBytes)
        for (i, row) in stored.enumerated() {
            guard let source = bytes.baseAddress else { break }
            (copy.pointer + i * sliceRowBytes).copyMemory(from: source + row * rowBytes + skipBytes, byteCount: sliceRowBytes)
        }
        return try FrozenMatrix(name: name, rows: rows.count, columns: columns.count, type: type,
                                bytes: UnsafeRawBufferPointer(start: copy.pointer, count: copy.count), owner: copy)
    }
}

/// Bytes owned by a sliced block matrix (the copied row ranges of a column slice).
package final class OwnedBytes: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer
    package let count: Int

    package init(count: Int) {
        self.count = count
        // Block formats hold fp16/fp32 fields: keep the alignment the mapping gives them.
        pointer = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}
