// NF4 tensors that are a tensor-parallel slice of a full matrix (docs/architecture.md §8: each rank
// holds exactly the bytes a single rank would hold for its slice). Two ways to get one:
//   - slice a full tensor already in memory (a bitsandbytes checkpoint): copy its codes and
//     scales for the slice's blocks;
//   - quantize the slice's own values with plain absmax (the first-level blocks are the same
//     blocks as in the full matrix), then double-quantize with the GLOBAL statistics:
//     `DoubleQuantizedAbsmax(slicing:globalAbsmax:)` takes the full absmax array (gathered
//     from every rank), computes the offset and the nested absmax exactly as the single-rank
//     `init(quantizing:)` does, and 8-bit-quantizes only this slice's entries.
// Legend: as in NF4BlockSlice.swift; n_local = r · kb · 64.

extension DoubleQuantizedAbsmax {
    /// The double-quantized scales of `slice`'s blocks, bit-identical to the same entries of
    /// `DoubleQuantizedAbsmax(quantizing: globalAbsmax)`: the same torch-order fp32 mean over the
    /// whole array, the same nested absmax per global block of 256 and the same 8-bit codes.
    /// Only the nested blocks the slice touches are kept.
    /// - Parameter globalAbsmax: every block's fp32 absmax of the full matrix, row-major.   // [R · Kb]
    public init(slicing slice: NF4BlockSlice, globalAbsmax: UnsafeBufferPointer<Float>) {
        precondition(globalAbsmax.count >= slice.globalBlock(slice.count - 1) + 1,
                     "DoubleQuantizedAbsmax(slicing:): global absmax too short for \(slice)")
        let offset = TorchCPUSum.mean(globalAbsmax)
        let nestedRange = slice.nestedBlocks
        var nested = [Float](repeating: 0, count: nestedRange.count)
        for (i, block) in nestedRange.enumerated() {
            let start = block * Self.blockSize
            let end = Swift.min(start + Self.blockSize, globalAbsmax.count)
            var amax: Float = 0
            // The same fp32 `absmax - offset` values the single-rank code centres.
            for j in start..<end { amax = Swift.max(amax, abs(globalAbsmax[j] - offset)) }
            nested[i] = amax
        }
        var codes = [UInt8](repeating: 0, count: slice.count)
        DynamicQuantMap.midpoints.withUnsafeBufferPointer { mid in
            for b in 0..<slice.count {
                let global = slice.globalBlock(b)
                let amax = nested[global / Self.blockSize - slice.firstNestedBlock]
                guard amax != 0 else { continue }  // bnb writes 0 bytes for an all-zero block
                let inverse = 1 / amax
                let centred = globalAbsmax[global] - offset
                codes[b] = Self.code(for: Swift.min(Swift.max(centred * inverse, -1), 1), midpoints: mid)
            }
        }
        self.init(slicedCodes: codes, nestedAbsmax: nested, offset: offset, blockMap: slice)
    }

    /// The entries of these (whole-tensor) scales that `slice` covers, with the nested blocks it
    /// touches: a copy, so the dequantized scales are the same floats.
    public func sliced(_ slice: NF4BlockSlice) -> DoubleQuantizedAbsmax {
        precondition(blockMap == nil, "DoubleQuantizedAbsmax.sliced: already a slice")
        precondition(slice.globalBlock(slice.count - 1) < quantized.count, "DoubleQuantizedAbsmax.sliced: \(slice) outside \(quantized.count) blocks")
        let codes = (0..<slice.count).map { quantized[slice.globalBlock($0)] }
        return DoubleQuantizedAbsmax(slicedCodes: codes, nestedAbsmax: Array(nestedAbsmax[slice.nestedBlocks]),
                                     offset: offset, blockMap: slice)
    }

    /// Memberwise, for slices (sizes agree by construction).
    private init(slicedCodes: [UInt8], nestedAbsmax: [Float], offset: Float, blockMap: NF4BlockSlice) {
        quantized = slicedCodes
        self.nestedAbsmax = nestedAbsmax
        self.offset = offset
        self.blockMap = blockMap
    }
}

extension NF4Tensor {
    /// The part of this `[R, I]` tensor (`I` a multiple of 64) that `slice` covers, as a
    /// `[r, kb · 64]` tensor holding the very same codes and scales. The shape must agree with
    /// `slice` (checked by the caller, who names the matrix).
    public func sliced(_ slice: NF4BlockSlice) -> NF4Tensor {
        let blockSize = NF4.blockSize
        precondition(shape.count == 2 && columns % blockSize == 0 && columns / blockSize == slice.blocksPerFullRow
                     && slice.firstRow + slice.rows <= rows, "NF4Tensor.sliced: \(slice) does not fit shape \(shape)")
        let bytesPerBlock = blockSize / 2
        var codes = [UInt8](repeating: 0, count: slice.count * bytesPerBlock)
        packed.withUnsafeBufferPointer { source in
            codes.withUnsafeMutableBufferPointer { destination in
                guard let s = source.baseAddress, let d = destination.baseAddress else { return }
                // One contiguous run of blocks per local row.
                let runBytes = slice.blocksPerRow * bytesPerBlock
                for r in 0..<slice.rows {
                    (d + r * runBytes).update(from: s + slice.globalBlock(r * slice.blocksPerRow) * bytesPerBlock, count: runBytes)
                }
            }
        }
        let newScales: Scales
        switch scales {
        case .plain(let absmax):
            newScales = .plain((0..<slice.count).map { absmax[slice.globalBlock($0)] })
        case .doubleQuantized(let dq):
            newScales = .doubleQuantized(dq.sliced(slice))
        }
        return NF4Tensor(unchecked: [slice.rows, slice.blocksPerRow * blockSize], packed: codes, scales: newScales)
    }

    /// This slice (plain scales) with its scales double-quantized under the full matrix's
    /// statistics; see `DoubleQuantizedAbsmax(slicing:globalAbsmax:)`.
    public func doubleQuantized(as slice: NF4BlockSlice, globalAbsmax: UnsafeBufferPointer<Float>) -> NF4Tensor {
        precondition(blocks == slice.count, "NF4Tensor.doubleQuantized(as:): \(blocks) blocks, slice has \(slice.count)")
        return NF4Tensor(unchecked: shape, packed: packed,
                         scales: .doubleQuantized(DoubleQuantizedAbsmax(slicing: slice, globalAbsmax: globalAbsmax)))
    }

    /// Wraps fields whose sizes agree by construction.
    private init(unchecked shape: [Int], packed: [UInt8], scales: Scales) {
        self.shape = shape
        self.packed = packed
        self.scales = scales
    }
}
