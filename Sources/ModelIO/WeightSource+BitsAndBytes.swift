// bitsandbytes 4-bit checkpoints (transformers `load_in_4bit=True` + `save_pretrained`), read as
// NF4 FrozenMatrix values. Each quantized linear `P.weight` [out, in] is stored as
// (bitsandbytes `QuantState.as_dict(packed=True)`):
//   P.weight                                U8  [ceil(n/2), 1]   NF4 codes, high nibble first
//   P.weight.absmax                         F32 [blocks]          plain, or
//                                           U8  [blocks]          double-quantized
//   P.weight.quant_map                      F32 [16]              the NF4 table
//   P.weight.nested_absmax                  F32 [ceil(blocks/256)] (double quant)
//   P.weight.nested_quant_map               F32 [256]             bnb's dynamic map (double quant)
//   P.weight.quant_state.bitsandbytes__nf4  U8  [bytes]           UTF-8 JSON: quant_type, blocksize,
//       dtype, shape, and with double quant nested_blocksize, nested_dtype, nested_offset
// Legend: n = out · in, blocks = ceil(n / 64). Every field is checked against the shape and
// the fixed tables before a byte is trusted; errors name the tensor and the field.

import LlamaModel
import Foundation
import ModelFormats
import Quantization

/// The bitsandbytes NF4 layout inside a safetensors checkpoint.
enum BitsAndBytesNF4 {
    static let stateSuffix = ".quant_state.bitsandbytes__nf4"
    static let fp4StateSuffix = ".quant_state.bitsandbytes__fp4"
    /// Suffixes of the tensors that belong to a quantized `P.weight`.
    static let auxiliarySuffixes = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                                    stateSuffix, fp4StateSuffix]

    /// The quantized weight `name` belongs to when `name` is one of its auxiliary tensors.
    static func owner(ofAuxiliary name: String) -> String? {
        for suffix in auxiliarySuffixes where name.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return nil
    }

    /// The non-tensor fields of a quant state (the packed JSON).
    struct State {
        var shape: [Int]
        var doubleQuantized: Bool
        var nestedOffset: Float
    }

    /// Reads and checks the JSON quant state of `name`, or nil when `name` is not bnb-quantized.
    static func state(of name: String, in checkpoint: SafeTensorsCheckpoint) throws -> State? {
        let fail = failure(name, checkpoint)
        guard let location = checkpoint.tensor(named: name + stateSuffix) else {
            if checkpoint.tensor(named: name + fp4StateSuffix) != nil {
                throw fail("quant_state.bitsandbytes__fp4", "quant_type fp4 is not supported; re-quantize with bnb_4bit_quant_type='nf4'")
            }
            return nil
        }
        guard location.info.dtype == .u8 else {
            throw fail("quant_state.bitsandbytes__nf4", "dtype \(location.info.dtype), expected U8 (UTF-8 JSON bytes)")
        }
        let bytes = location.file.data(for: location.info)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let json = object as? [String: Any] else {
            throw fail("quant_state.bitsandbytes__nf4", "not a JSON object")
        }
        guard let quantType = json["quant_type"] as? String else { throw fail("quant_type", "missing or not a string") }
        guard quantType == "nf4" else { throw fail("quant_type", "'\(quantType)' is not supported; only nf4 loads") }
        guard let blocksize = json["blocksize"] as? Int else { throw fail("blocksize", "missing or not an integer") }
        guard blocksize == NF4.blockSize else { throw fail("blocksize", "\(blocksize); only \(NF4.blockSize) is supported") }
        guard let dtype = json["dtype"] as? String else { throw fail("dtype", "missing or not a string") }
        guard ["float32", "float16", "bfloat16"].contains(dtype) else { throw fail("dtype", "'\(dtype)' is not a float type") }
        guard let shape = json["shape"] as? [Int], shape.count == 2, shape.allSatisfy({ $0 > 0 }) else {
            throw fail("shape", "missing or not a 2-D [out, in] shape: \(json["shape"] ?? "nil")")
        }
        let nestedKeys = ["nested_blocksize", "nested_offset", "nested_dtype"]
        let hasNested = nestedKeys.contains { json[$0] != nil } || checkpoint.tensor(named: name + ".nested_absmax") != nil
        var offset: Float = 0
        if hasNested {
            guard let nestedBlocksize = json["nested_blocksize"] as? Int else { throw fail("nested_blocksize", "missing (double quantization)") }
            guard nestedBlocksize == DoubleQuantizedAbsmax.blockSize else {
                throw fail("nested_blocksize", "\(nestedBlocksize); only \(DoubleQuantizedAbsmax.blockSize) is supported")
            }
            guard let value = json["nested_offset"] as? Double, value.isFinite else {
                throw fail("nested_offset", "missing or not a finite number (double quantization)")
            }
            if let nestedDType = json["nested_dtype"], nestedDType as? String != "float32" {
                throw fail("nested_dtype", "'\(nestedDType)', expected float32")
            }
            offset = Float(value)
        }
        return State(shape: shape, doubleQuantized: hasNested, nestedOffset: offset)
    }

    /// The NF4 matrix stored for `name` ([rows, columns]), or nil when `name` is not bnb-quantized.
    static func matrix(named name: String, rows: Int, columns: Int, in checkpoint: SafeTensorsCheckpoint) throws -> FrozenMatrix? {
        let fail = failure(name, checkpoint)
        guard let state = try state(of: name, in: checkpoint) else {
            if let weight = checkpoint.tensor(named: name), weight.info.dtype == .u8 {
                throw fail("weight", "uint8 without a quant_state.bitsandbytes__nf4 entry; only bitsandbytes NF4 (4-bit) checkpoints are supported")
            }
            return nil
        }
        guard state.shape == [rows, columns] else {
            throw fail("shape", "quant state says \(state.shape), the config expects [\(rows), \(columns)]")
        }
        let n = rows * columns
        let blocks = (n + NF4.blockSize - 1) / NF4.blockSize

        let packed = try tensor(name, field: "weight", in: checkpoint, fail: fail)
        guard packed.info.dtype == .u8 else { throw fail("weight", "dtype \(packed.info.dtype), expected U8 packed codes") }
        guard packed.info.elementCount == (n + 1) / 2 else {
            throw fail("weight", "\(packed.info.elementCount) packed bytes (shape \(packed.info.shape)) but shape \(state.shape) needs \((n + 1) / 2)")
        }
        let quantMap = try floats(name + ".quant_map", field: "quant_map", in: checkpoint, fail: fail)
        guard quantMap.map(\.bitPattern) == NF4.codes.map(\.bitPattern) else {
            throw fail("quant_map", "is not the 16-value NF4 table")
        }

        let absmax = try tensor(name + ".absmax", field: "absmax", in: checkpoint, fail: fail)
        guard absmax.info.elementCount == blocks else {
            throw fail("absmax", "\(absmax.info.elementCount) entries, \(blocks) blocks of \(NF4.blockSize) expected")
        }
        let scales: NF4Tensor.Scales
        if state.doubleQuantized {
            guard absmax.info.dtype == .u8 else {
                throw fail("absmax", "dtype \(absmax.info.dtype), but the quant state is double-quantized (U8 expected)")
            }
            let nested = try floats(name + ".nested_absmax", field: "nested_absmax", in: checkpoint, fail: fail)
            let nestedBlocks = (blocks + DoubleQuantizedAbsmax.blockSize - 1) / DoubleQuantizedAbsmax.blockSize
            guard nested.count == nestedBlocks else {
                throw fail("nested_absmax", "\(nested.count) entries, \(nestedBlocks) expected")
            }
            guard nested.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail("nested_absmax", "holds a negative or non-finite value") }
            let nestedMap = try floats(name + ".nested_quant_map", field: "nested_quant_map", in: checkpoint, fail: fail)
            guard nestedMap.map(\.bitPattern) == DynamicQuantMap.signed.map(\.bitPattern) else {
                throw fail("nested_quant_map", "is not bitsandbytes' 256-value signed dynamic map")
            }
            let codes = [UInt8](absmax.file.data(for: absmax.info))
            do {
                scales = .doubleQuantized(try DoubleQuantizedAbsmax(quantized: codes, nestedAbsmax: nested, offset: state.nestedOffset))
            } catch {
                throw fail("nested_absmax", "\(error)")
            }
        } else {
            guard absmax.info.dtype.isFloatingPoint else {
                throw fail("absmax", "dtype \(absmax.info.dtype) without double-quantization fields (nested_absmax, nested_offset); expected F32")
            }
            let values = try floats(name + ".absmax", field: "absmax", in: checkpoint, fail: fail)
            guard values.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail("absmax", "holds a negative or non-finite value") }
            scales = .plain(values)
        }
        do {
            let tensor = try NF4Tensor(shape: [rows, columns], packed: [UInt8](packed.file.data(for: packed.info)), scales: scales)
            return try FrozenMatrix(name: name, nf4: tensor)
        } catch let error as QuantizationError {
            throw fail("weight", "\(error)")
        }
    }

    /// A builder of errors that name the tensor, the file and the field.
    private static func failure(_ name: String, _ checkpoint: SafeTensorsCheckpoint) -> (String, String) -> LlamaModelError {
        { field, detail in
            .invalidWeights("bitsandbytes 4-bit tensor '\(name)' in \(checkpoint.path): \(field): \(detail)")
        }
    }

    private static func tensor(_ name: String, field: String, in checkpoint: SafeTensorsCheckpoint,
                               fail: (String, String) -> LlamaModelError) throws -> SafeTensorsCheckpoint.Location {
        guard let location = checkpoint.tensor(named: name) else { throw fail(field, "tensor '\(name)' is missing") }
        return location
    }

    private static func floats(_ name: String, field: String, in checkpoint: SafeTensorsCheckpoint,
                               fail: (String, String) -> LlamaModelError) throws -> [Float] {
        let location = try tensor(name, field: field, in: checkpoint, fail: fail)
        do {
            return try location.file.floats(for: location.info)
        } catch {
            throw fail(field, "cannot be read as floats (\(location.info.dtype)): \(error)")
        }
    }
}

extension SafeTensorsCheckpoint {
    /// A bitsandbytes NF4 linear weight stored under `name`, or nil when `name` is a plain tensor.
    public func quantizedMatrix(named name: String, rows: Int, columns: Int) throws -> FrozenMatrix? {
        try BitsAndBytesNF4.matrix(named: name, rows: rows, columns: columns, in: self)
    }
}
