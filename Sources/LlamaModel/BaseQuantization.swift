// The frozen base as QLoRA holds it: the seven linear weights of every layer (q, k, v, o, gate,
// up, down) converted at load to bitsandbytes NF4 (or to owned fp32 for comparison runs, or kept
// in the file's own format: a GGUF's Q4_1 or Q4_K blocks, a checkpoint's bf16). The
// embedding, the head and the norms keep their stored precision, as transformers + bnb do.
// Each matrix is dequantized in HF row order (q/k already un-permuted) tile by tile (64-row
// multiples, ~4 MB: NF4Tensor+Tiles.swift) and quantized over its row-major flattened [out, in]
// values in blocks of 64, so at most one fp32 tile per worker thread exists at a time, not a
// whole fp32 matrix.

import Dispatch
import Kernels
import Quantization

/// How the frozen linear weights of the base model are held in memory.
public enum BaseQuantization: Sendable, Hashable, CustomStringConvertible {
    /// bitsandbytes NF4, blocks of 64; `doubleQuantization` stores the block scales as 8 bits
    /// (`bnb_4bit_use_double_quant`).
    case nf4(doubleQuantization: Bool)
    /// Dequantized to fp32 owned by the model (no quantization error beyond the file's own).
    case none
    /// Kept as the file stores it (GGUF blocks such as Q4_1 or Q4_K, safetensors bf16/f16/f32),
    /// dequantized tile by tile in every product: the values of `none` without its fp32 copy,
    /// and no second quantization error on top of the file's own.
    case stored

    /// QLoRA's usual setting: NF4 with double quantization.
    public static let `default` = BaseQuantization.nf4(doubleQuantization: true)

    public var description: String {
        switch self {
        case .nf4(let dq): return dq ? "nf4+dq" : "nf4"
        case .none: return "none (fp32)"
        case .stored: return "stored (the file's format)"
        }
    }

    /// Bytes one `[out, in]` matrix of `elements` values takes in this representation: NF4
    /// codes plus fp32 absmax per 64-block, or with double quantization one byte per block,
    /// an fp32 nested absmax per 256 blocks and the fp32 offset. `.stored` takes the file's
    /// bytes per value, `asStored` (2 for bf16, 0.625 for Q4_1).
    public func storedBytes(elements n: Int, asStored bytesPerValue: Double = 2) -> Int {
        switch self {
        case .none: return 4 * n
        case .stored: return Int((Double(n) * bytesPerValue).rounded(.up))
        case .nf4(let dq):
            let blocks = (n + NF4.blockSize - 1) / NF4.blockSize
            let nested = (blocks + DoubleQuantizedAbsmax.blockSize - 1) / DoubleQuantizedAbsmax.blockSize
            return (n + 1) / 2 + (dq ? blocks + 4 * nested + 4 : 4 * blocks)
        }
    }
}

extension FrozenMatrix {
    /// This matrix held as `target`. NF4 is bitsandbytes' `quantize_4bit(W, blocksize=64,
    /// quant_type="nf4")` of the dequantized values in HF layout. An NF4 matrix only changes
    /// how its scales are stored (exactly what bnb computes from the same absmax); an fp32
    /// matrix asked for `.none` is returned as is, and every matrix asked for `.stored`.
    public func converted(to target: BaseQuantization) throws -> FrozenMatrix {
        switch (target, storage) {
        case (.stored, _):
            return self
        case (.none, .dense):
            return self
        case (.nf4(let dq), .nf4(let tensor)):
            return try FrozenMatrix(name: name, nf4: Self.rescaled(tensor, doubleQuantization: dq))
        default:
            break
        }
        switch target {
        case .stored:
            return self
        case .none:
            let values = FloatBuffer(count: rows * columns)   // [O, I], held by the result
            try dequantizeRows(0, count: rows, into: values.pointer)
            return FrozenMatrix(name: name, rows: rows, columns: columns, dense: values)
        case .nf4(let dq):
            do {
                // Tile by tile: only ~4 MB of fp32 exists at a time, not an [O, I] copy.
                let tensor = try NF4Tensor(rows: rows, columns: columns, doubleQuantization: dq) { range, out in
                    try dequantizeRows(range.lowerBound, count: range.count, into: out)
                }
                return try FrozenMatrix(name: name, nf4: tensor)
            } catch let error as QuantizationError {
                throw LlamaModelError.invalidWeights("tensor '\(name)' cannot be quantized to NF4: \(error)")
            }
        }
    }

    /// `tensor` with its block scales stored plain or double-quantized. Plain → DQ runs bnb's
    /// `compress_statistics` on the exact fp32 absmax; DQ → plain keeps the dequantized scales,
    /// so the dequantized weights are unchanged.
    static func rescaled(_ tensor: NF4Tensor, doubleQuantization dq: Bool) throws -> NF4Tensor {
        switch (tensor.scales, dq) {
        case (.plain, false), (.doubleQuantized, true):
            return tensor
        case (.plain(let absmax), true):
            return try NF4Tensor(shape: tensor.shape, packed: tensor.packed,
                                 scales: .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax)))
        case (.doubleQuantized(let scales), false):
            return try NF4Tensor(shape: tensor.shape, packed: tensor.packed, scales: .plain(scales.dequantized()))
        }
    }
}

extension LlamaWeights {
    /// These weights with the seven linear matrices of every layer held as `target`; the
    /// embedding, head and norms are shared unchanged. Matrices are converted independently on
    /// up to `threads` threads (one temporary fp32 matrix each).
    public func quantizedBase(_ target: BaseQuantization, threads: Int = BLAS.threadCount) throws -> LlamaWeights {
        let sources = layers.flatMap(\.linears)   // 7 per layer, PEFT order
        let converted = try Self.convert(sources, to: target, threads: threads)
        var out = self
        for l in out.layers.indices {
            out.layers[l].linears = Array(converted[(7 * l)..<(7 * l + 7)])
        }
        releaseConvertedSources(out)
        return out
    }

    /// Converts every matrix; the first failure (in matrix order) is rethrown.
    private static func convert(_ matrices: [FrozenMatrix], to target: BaseQuantization, threads: Int) throws -> [FrozenMatrix] {
        let n = matrices.count
        if n == 0 { return [] }
        let workers = max(1, min(threads, n))
        let slots = ResultSlots(count: n)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: n, by: workers) {
                slots.pointer[i] = Result { try matrices[i].converted(to: target) }
            }
        }
        return try (0..<n).map { i in
            guard let result = slots.pointer[i] else {
                throw LlamaModelError.invalidWeights("internal: base matrix \(matrices[i].name) was not converted")
            }
            return try result.get()
        }
    }

    /// Parameters in the seven linear weights of every layer (what `quantizedBase` converts).
    public var baseLinearParameterCount: Int {
        layers.flatMap(\.linears).reduce(0) { $0 + $1.rows * $1.columns }
    }

    /// Bytes those linear weights hold in their current storage.
    public var baseLinearStoredBytes: Int {
        layers.flatMap(\.linears).reduce(0) { $0 + $1.storedBytes }
    }

    /// Stored bits per parameter of the linear weights (4.5 for plain NF4, about 4.127 with
    /// double quantization).
    public var baseLinearBitsPerParameter: Double {
        let count = baseLinearParameterCount
        return count == 0 ? 0 : Double(baseLinearStoredBytes * 8) / Double(count)
    }

    /// The distinct storage formats of the linear weights, e.g. "NF4+DQ" or "Q4_1, Q6_K".
    public var baseLinearStorageDescription: String {
        var seen: [String] = []
        for m in layers.flatMap(\.linears) where !seen.contains(m.storageDescription) { seen.append(m.storageDescription) }
        return seen.joined(separator: ", ")
    }
}

/// One result slot per matrix; each slot is written by exactly one worker, then read after
/// `concurrentPerform` returns, so no two threads touch the same slot.
package final class ResultSlots: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Result<FrozenMatrix, Error>?>
    package let count: Int

    package init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: nil, count: count)
    }

    deinit {
        pointer.deinitialize(count: count)
        pointer.deallocate()
    }
}
