// A frozen weight matrix W [out, in] in HF row order: one type over every way a frozen base
// weight is held (docs/architecture.md §8: never a dense and a quantized twin class).
//   - GGML blocks (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) inside a memory-mapped
//     file, as stored; GGUF's permuted q/k rows are read through `rowOrder`.
//   - bitsandbytes NF4 (plain or double-quantized absmax), the QLoRA base.
//   - dense fp32 owned by the matrix (tests, `--base-quant none`).
// Rows are dequantized on demand into caller scratch; consumers see only `rows`, `columns`,
// `dequantizeRows`, `linearForward` and `linearBackwardInput`.
// Legend: O = rows (out features), I = columns (in features).

import Kernels
import Quantization

/// A read-only `[rows, columns]` matrix: GGML blocks in a mapping, NF4, or owned fp32.
public struct FrozenMatrix: @unchecked Sendable {
    /// Tensor name in its file (for messages).
    public let name: String
    /// `O`.
    public let rows: Int
    /// `I`.
    public let columns: Int
    /// Where the values live.
    let storage: Storage

    /// The backings a frozen matrix can have.
    enum Storage {
        /// `[O, I]` in GGML `type` blocks, a slice of `owner`'s bytes (not a copy). HF row `r`
        /// is stored row `rowOrder[r]` (nil: HF order).
        case blocks(type: GGMLType, bytes: UnsafeRawBufferPointer, owner: AnyObject, rowOrder: [Int]?)
        /// bitsandbytes NF4 over the row-major flattened `[O, I]` weight.
        case nf4(NF4Tensor)
        /// fp32 values owned by the matrix.   // [O, I]
        case dense(FloatBuffer)
    }

    /// Wraps stored bytes. Throws when the row length is not a whole number of blocks or the
    /// byte count does not match the shape.
    public init(name: String, rows: Int, columns: Int, type: GGMLType, bytes: UnsafeRawBufferPointer,
                owner: AnyObject, rowOrder: [Int]? = nil) throws {
        guard Dequantize.supportedTypes.contains(type) else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' has type \(type), which cannot be dequantized")
        }
        guard rows > 0, columns > 0, columns % type.blockElements == 0 else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(rows), \(columns)]: rows must be positive and the row length a multiple of the \(type) block size \(type.blockElements)")
        }
        let (elements, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, let needed = type.byteCount(elements: elements), needed == bytes.count else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(rows), \(columns)] \(type): expected \(type.byteCount(elements: elements) ?? 0) bytes, found \(bytes.count)")
        }
        if let order = rowOrder {
            precondition(order.count == rows && order.allSatisfy { (0..<rows).contains($0) }, "FrozenMatrix: bad row order")
        }
        self.name = name
        self.rows = rows
        self.columns = columns
        storage = .blocks(type: type, bytes: bytes, owner: owner, rowOrder: rowOrder)
    }

    /// An fp32 matrix owning a copy of `values` (`[rows, columns]`, row-major).
    public init(name: String, rows: Int, columns: Int, values: [Float]) throws {
        guard rows > 0, columns > 0, values.count == rows * columns else {
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(rows), \(columns)]: expected \(max(0, rows) * max(0, columns)) values, found \(values.count)")
        }
        self.init(name: name, rows: rows, columns: columns, dense: FloatBuffer(values))
    }

    /// A matrix over `dense` (`rows · columns` floats), which it keeps alive.
    package init(name: String, rows: Int, columns: Int, dense: FloatBuffer) {
        precondition(dense.count == rows * columns, "FrozenMatrix: dense buffer size")
        self.name = name
        self.rows = rows
        self.columns = columns
        storage = .dense(dense)
    }

    /// A matrix over an NF4 tensor of shape `[rows, columns]`.
    public init(name: String, nf4: NF4Tensor) throws {
        guard nf4.shape.count == 2 else {
            throw LlamaModelError.invalidWeights("tensor '\(name)': NF4 shape \(nf4.shape) is not a matrix [out, in]")
        }
        self.name = name
        rows = nf4.shape[0]
        columns = nf4.shape[1]
        storage = .nf4(nf4)
    }

    /// The GGML type of block storage (F32 for owned fp32), nil for NF4.
    public var type: GGMLType? {
        switch storage {
        case .blocks(let type, _, _, _): return type
        case .dense: return .f32
        case .nf4: return nil
        }
    }

    /// Stored row of HF row `r` (`rowOrder[r]`) for GGUF q/k blocks; nil when in HF order.
    public var rowOrder: [Int]? {
        if case .blocks(_, _, _, let order) = storage { return order }
        return nil
    }

    /// The NF4 tensor behind the matrix, if that is its storage.
    public var nf4: NF4Tensor? {
        if case .nf4(let tensor) = storage { return tensor }
        return nil
    }

    /// How the values are stored: "Q4_1", "BF16", "F32", "NF4" or "NF4+DQ" (double-quantized).
    public var storageDescription: String {
        switch storage {
        case .blocks(let type, _, _, _): return type.description
        case .dense: return "F32"
        case .nf4(let tensor):
            if case .doubleQuantized = tensor.scales { return "NF4+DQ" }
            return "NF4"
        }
    }

    /// Bytes the matrix holds: the stored blocks, the fp32 values, or NF4 codes plus scales
    /// (and the double-quantization statistics). Shared code tables are not counted.
    public var storedBytes: Int {
        switch storage {
        case .blocks(_, let bytes, _, _): return bytes.count
        case .dense(let buffer): return buffer.count * MemoryLayout<Float>.size
        case .nf4(let tensor):
            switch tensor.scales {
            case .plain(let absmax): return tensor.packed.count + 4 * absmax.count
            case .doubleQuantized(let dq): return tensor.packed.count + dq.quantized.count + 4 * dq.nestedAbsmax.count + 4
            }
        }
    }

    /// Stored bits per parameter (`storedBytes · 8 / (O · I)`).
    public var bitsPerParameter: Double { Double(storedBytes * 8) / Double(rows * columns) }

    /// The raw bytes of block or dense storage (empty for NF4), for tests and re-wrapping.
    var bytes: UnsafeRawBufferPointer {
        switch storage {
        case .blocks(_, let bytes, _, _): return bytes
        case .dense(let buffer): return UnsafeRawBufferPointer(UnsafeBufferPointer(buffer.buffer))
        case .nf4: return UnsafeRawBufferPointer(start: nil, count: 0)
        }
    }

    /// The object that keeps `bytes` valid.
    var owner: AnyObject {
        switch storage {
        case .blocks(_, _, let owner, _): return owner
        case .dense(let buffer): return buffer
        case .nf4: return Placeholder.shared
        }
    }

    /// Elements of one tile of rows that `linearForward` dequantizes at a time.
    public var tileRows: Int { Self.tileRows(rows: rows, columns: columns) }

    /// Floats of one dequantized tile at most (4 MB). OpenBLAS repacks the activations for every
    /// sgemm call, once per tile, so a tile holds as many rows as this allows: a SmolLM2 layer
    /// matrix is one tile (256-row tiles cost ~6% of a training step in that repacking).
    public static let tileFloats = 1 << 20

    /// Rows per tile of a `[rows, columns]` matrix: `tileFloats / columns`, at least 16.
    public static func tileRows(rows: Int, columns: Int) -> Int {
        min(rows, max(16, tileFloats / max(columns, 1)))
    }

    /// Scratch floats `linearForward` needs: `tileRows · columns`.
    public var scratchCount: Int { tileRows * columns }

    /// Dequantizes HF rows `start ..< start + count` into `destination` (`[count, I]`).
    public func dequantizeRows(_ start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        precondition(start >= 0 && count >= 0 && start + count <= rows, "FrozenMatrix: row range outside \(name)")
        if count == 0 { return }
        switch storage {
        case .blocks(let type, let bytes, _, let rowOrder):
            if let order = rowOrder {
                for r in 0..<count {
                    try Dequantize.run(type, source: bytes, firstElement: order[start + r] * columns, count: columns,
                                       into: destination + r * columns)
                }
            } else {
                try Dequantize.run(type, source: bytes, firstElement: start * columns, count: count * columns,
                                   into: destination)
            }
        case .nf4(let tensor):
            // The row range is checked above, so NF4 cannot throw here.
            try tensor.dequantize(rows: start..<(start + count),
                                  into: UnsafeMutableBufferPointer(start: destination, count: count * columns))
        case .dense(let buffer):
            destination.update(from: buffer.pointer + start * columns, count: count * columns)
        }
    }

    /// Rows `start ..< start + count` in place (`[count, I]`) when the matrix is owned fp32,
    /// so the GEMM tiles read them without a copy.
    func denseRows(_ start: Int) -> UnsafePointer<Float>? {
        if case .dense(let buffer) = storage { return UnsafePointer(buffer.pointer + start * columns) }
        return nil
    }

    /// The whole matrix as `[O, I]` floats (tests and export; not for the step loop).
    public func dequantized() throws -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        try out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            try dequantizeRows(0, count: rows, into: base)
        }
        return out
    }
}

/// The owner reported for storage that has no raw bytes.
private final class Placeholder: Sendable {
    static let shared = Placeholder()
}

/// llama.cpp's converter stores q/k rows as `hf.reshape(heads, 2, D/2, I).swapaxes(1, 2)`: within
/// a head, stored row `2i + s` is HF row `s·D/2 + i`. Returns, for each HF row, its stored row.
public func ggufRoPERowOrder(rows: Int, heads: Int) -> [Int] {
    precondition(heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0, "ggufRoPERowOrder: bad shape")
    let d = rows / heads
    let half = d / 2
    var order = [Int](repeating: 0, count: rows)
    for h in 0..<heads {
        for s in 0..<2 {
            for i in 0..<half { order[h * d + s * half + i] = h * d + 2 * i + s }
        }
    }
    return order
}

/// `values` (`[rows, columns]`, HF row order) with the rows of each of `heads` heads moved to
/// llama.cpp's stored order: HF row `h·D + s·D/2 + i` goes to row `h·D + 2i + s` (the inverse of
/// the un-permutation at load, `ggufRoPERowOrder`).
public func ggufPermutedRows(_ values: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
    precondition(values.count == rows * columns, "ggufPermutedRows: \(values.count) values for [\(rows), \(columns)]")
    let order = ggufRoPERowOrder(rows: rows, heads: heads)
    var out = [Float](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { destination in
            for r in 0..<rows {
                let to = order[r] * columns
                let from = r * columns
                for c in 0..<columns { destination[to + c] = source[from + c] }
            }
        }
    }
    return out
}
