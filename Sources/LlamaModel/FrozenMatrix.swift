// A frozen weight matrix W [out, in] in HF row order, left in its stored format (F32, F16,
// BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) inside the memory-mapped file: one type for dense
// and quantized weights. Rows are dequantized on demand into caller scratch.
// Legend: O = rows (out features), I = columns (in features).
// GGUF stores attn_q / attn_k rows permuted for llama.cpp's interleaved RoPE; `rowOrder`
// maps HF row r to the stored row, so every consumer sees HF layout (DESIGN §5).

import Quantization

/// A read-only `[rows, columns]` matrix stored in a GGML block type.
public struct FrozenMatrix: @unchecked Sendable {
    /// Tensor name in its file (for messages).
    public let name: String
    /// `O`.
    public let rows: Int
    /// `I`.
    public let columns: Int
    /// Storage type; every row is a whole number of its blocks.
    public let type: GGMLType
    /// Stored row of HF row `r` (`rowOrder[r]`); nil when stored in HF order.
    public let rowOrder: [Int]?
    /// The stored bytes, `[O, I]` in `type` blocks (a slice of the mapping, not a copy).
    let bytes: UnsafeRawBufferPointer
    /// Keeps the mapping behind `bytes` alive.
    let owner: AnyObject

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
            throw LlamaModelError.invalidWeights("tensor '\(name)' [\(rows), \(columns)] \(type): expected \(type.byteCount(elements: elements) ?? -1) bytes, found \(bytes.count)")
        }
        if let order = rowOrder {
            precondition(order.count == rows && order.allSatisfy { (0..<rows).contains($0) }, "FrozenMatrix: bad row order")
        }
        self.name = name
        self.rows = rows
        self.columns = columns
        self.type = type
        self.bytes = bytes
        self.owner = owner
        self.rowOrder = rowOrder
    }

    /// An F32 matrix owning a copy of `values` (`[rows, columns]`, row-major): tests and small
    /// synthetic models.
    public init(name: String, rows: Int, columns: Int, values: [Float]) throws {
        guard values.count == rows * columns else {
            throw LlamaModelError.invalidWeights("tensor '\(name)': expected \(rows * columns) values, found \(values.count)")
        }
        let storage = OwnedBytes(values)
        try self.init(name: name, rows: rows, columns: columns, type: .f32,
                      bytes: UnsafeRawBufferPointer(storage.bytes), owner: storage)
    }

    /// Elements of one tile of rows that `linearForward` dequantizes at a time.
    public var tileRows: Int { min(rows, max(16, min(256, (1 << 18) / columns))) }

    /// Scratch floats `linearForward` needs: `tileRows · columns`.
    public var scratchCount: Int { tileRows * columns }

    /// Dequantizes HF rows `start ..< start + count` into `destination` (`[count, I]`).
    public func dequantizeRows(_ start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) throws {
        precondition(start >= 0 && count >= 0 && start + count <= rows, "FrozenMatrix: row range outside \(name)")
        if let order = rowOrder {
            for r in 0..<count {
                try Dequantize.run(type, source: bytes, firstElement: order[start + r] * columns, count: columns,
                                   into: destination + r * columns)
            }
        } else {
            try Dequantize.run(type, source: bytes, firstElement: start * columns, count: count * columns,
                               into: destination)
        }
    }

    /// The whole matrix as `[O, I]` floats (tests and export; not for the step loop).
    public func dequantized() throws -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        try out.withUnsafeMutableBufferPointer { try dequantizeRows(0, count: rows, into: $0.baseAddress!) }
        return out
    }
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

/// Heap bytes with a stable address, owned by a matrix built from values.
final class OwnedBytes: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ values: [Float]) {
        bytes = .allocate(byteCount: max(1, values.count * 4), alignment: 64)
        values.withUnsafeBytes { bytes.copyMemory(from: $0) }
        if values.isEmpty { bytes.initializeMemory(as: UInt8.self, repeating: 0) }
    }
    deinit { bytes.deallocate() }
}
