// bitsandbytes 4-bit checkpoints: a tiny model written in the layout transformers saves with
// load_in_4bit (QuantState.as_dict(packed=True): packed U8 weight, absmax, quant_map,
// nested_absmax, nested_quant_map, quant_state.bitsandbytes__nf4 JSON) loads back with
// bit-identical dequantized weights; every inconsistent field is refused by name.

import Foundation
import Testing
@testable import LlamaModel
@testable import ModelIO
import ModelFormats
import Quantization

/// One tensor of the checkpoint before it is written.
private struct Entry {
    var dtype: SafeTensorsDType
    var shape: [Int]
    var bytes: [UInt8]
}

private func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

private func jsonBytes(_ object: [String: Any]) throws -> [UInt8] {
    [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
}

/// The bnb fields of one quantized linear, as `QuantState.as_dict(packed=True)` names them.
private func bnbEntries(_ name: String, _ tensor: NF4Tensor) throws -> [String: Entry] {
    var out: [String: Entry] = [:]
    var state: [String: Any] = ["quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": tensor.shape]
    out[name] = Entry(dtype: .u8, shape: [tensor.packed.count, 1], bytes: tensor.packed)
    out[name + ".quant_map"] = Entry(dtype: .f32, shape: [16], bytes: floatBytes(NF4.codes))
    switch tensor.scales {
    case .plain(let absmax):
        out[name + ".absmax"] = Entry(dtype: .f32, shape: [absmax.count], bytes: floatBytes(absmax))
    case .doubleQuantized(let dq):
        out[name + ".absmax"] = Entry(dtype: .u8, shape: [dq.quantized.count], bytes: dq.quantized)
        out[name + ".nested_absmax"] = Entry(dtype: .f32, shape: [dq.nestedAbsmax.count], bytes: floatBytes(dq.nestedAbsmax))
        out[name + ".nested_quant_map"] = Entry(dtype: .f32, shape: [256], bytes: floatBytes(DynamicQuantMap.signed))
        state["nested_blocksize"] = 256
        state["nested_dtype"] = "float32"
        state["nested_offset"] = Double(dq.offset)
    }
    let json = try jsonBytes(state)
    out[name + ".quant_state.bitsandbytes__nf4"] = Entry(dtype: .u8, shape: [json.count], bytes: json)
    return out
}

/// Writes `model` as a bnb-4bit HF directory (embedding and norms fp32, the seven linears NF4);
/// `edit` may corrupt the entries first. Returns the directory and the NF4 tensors written.
private func writeBnbDirectory(_ model: Llama, doubleQuant: Bool,
                               edit: (inout [String: Entry]) throws -> Void = { _ in }) throws -> (URL, [String: NF4Tensor]) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bnb-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try JSONEncoder().encode(model.config).write(to: dir.appendingPathComponent("config.json"))
    var entries: [String: Entry] = [:]
    var quantized: [String: NF4Tensor] = [:]
    func dense(_ name: String, _ shape: [Int], _ values: [Float]) {
        entries[name] = Entry(dtype: .f32, shape: shape, bytes: floatBytes(values))
    }
    let w = model.weights
    dense("model.embed_tokens.weight", [w.embedding.rows, w.embedding.columns], try w.embedding.dequantized())
    dense("model.norm.weight", [w.outputNorm.count], w.outputNorm.array)
    for (l, layer) in w.layers.enumerated() {
        let p = "model.layers.\(l)."
        dense(p + "input_layernorm.weight", [layer.attentionNorm.count], layer.attentionNorm.array)
        dense(p + "post_attention_layernorm.weight", [layer.ffnNorm.count], layer.ffnNorm.array)
        for (part, m) in [("self_attn.q_proj", layer.q), ("self_attn.k_proj", layer.k), ("self_attn.v_proj", layer.v),
                          ("self_attn.o_proj", layer.o), ("mlp.gate_proj", layer.gate), ("mlp.up_proj", layer.up),
                          ("mlp.down_proj", layer.down)] {
            let tensor = try NF4Tensor(quantizing: m.dequantized(), shape: [m.rows, m.columns], doubleQuantization: doubleQuant)
            quantized[p + part + ".weight"] = tensor
            entries.merge(try bnbEntries(p + part + ".weight", tensor)) { $1 }
        }
    }
    try edit(&entries)
    var writer = SafeTensorsWriter(metadata: ["format": "pt"])
    for (name, e) in entries { try writer.add(name: name, dtype: e.dtype, shape: e.shape, bytes: e.bytes) }
    try writer.write(to: dir.appendingPathComponent("model.safetensors").path)
    return (dir, quantized)
}

/// hidden 24 (4 heads of 6, 2 KV heads: k/v hold 288 values, a short last block), and a
/// wider one whose FFN matrices have 320 blocks (two nested double-quant blocks).
private let configs: [LlamaConfig] = [
    LlamaConfig(hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4,
                numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 10_000, vocabSize: 37,
                maxPositionEmbeddings: 64, tieWordEmbeddings: true),
    LlamaConfig(hiddenSize: 64, intermediateSize: 320, numHiddenLayers: 1, numAttentionHeads: 4,
                numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 10_000, vocabSize: 37,
                maxPositionEmbeddings: 64, tieWordEmbeddings: true),
]

private let target = "model.layers.1.self_attn.k_proj.weight"

@Suite struct BitsAndBytesCheckpointTests {
    @Test(arguments: [(0, false), (0, true), (1, false), (1, true)])
    func roundTripIsBitIdentical(_ configIndex: Int, _ dq: Bool) throws {
        let model = try tinyLlama(config: configs[configIndex], seed: 3)
        let (dir, written) = try writeBnbDirectory(model, doubleQuant: dq)
        defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try Llama.load(huggingFaceDirectory: dir.path)
        var checked = 0
        for (l, layer) in loaded.weights.layers.enumerated() {
            let parts = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
            for (part, m) in zip(parts, layer.linears) {
                let tensor = try #require(written["model.layers.\(l).\(part).weight"])
                #expect(m.nf4 == tensor && m.storageDescription == (dq ? "NF4+DQ" : "NF4"))
                #expect(try m.dequantized().map(\.bitPattern) == tensor.dequantized().map(\.bitPattern))
                checked += 1
            }
        }
        #expect(checked == 7 * model.config.numHiddenLayers)
        #expect(loaded.weights.embedding.storageDescription == "F32")

        // The same numbers as quantizing the fp32 model on load.
        let onLoad = try Llama(config: model.config, weights: model.weights.quantizedBase(.nf4(doubleQuantization: dq)))
        let ids = [[1, 5, 9, 30, 2, 2, 7]]
        #expect(try loaded.evaluate(sequences: ids).loss == onLoad.evaluate(sequences: ids).loss)

        // Through ModelPath: kept, rescaled, or expanded to fp32 as asked.
        let path = try ModelPath(dir.path)
        let same = try path.load(baseQuantization: .nf4(doubleQuantization: dq))
        #expect(same.weights.layers[0].q.nf4 == loaded.weights.layers[0].q.nf4)
        let other = try path.load(baseQuantization: .nf4(doubleQuantization: !dq))
        #expect(other.weights.baseLinearStorageDescription == (dq ? "NF4" : "NF4+DQ"))
        let dense = try path.load(baseQuantization: .none)
        #expect(try dense.weights.layers[0].down.dequantized() == loaded.weights.layers[0].down.dequantized())
        #expect(try dense.evaluate(sequences: ids).loss == loaded.evaluate(sequences: ids).loss)
    }

    /// `tessera info` counts a bnb matrix by its quant-state shape and adds its auxiliary bytes.
    @Test func summaryCountsQuantizedMatricesByTheirShape() throws {
        let model = try tinyLlama(config: configs[1], seed: 5)
        let (dir, written) = try writeBnbDirectory(model, doubleQuant: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try ModelSummary(path: ModelPath(dir.path))
        let w = model.weights
        let linear = w.baseLinearParameterCount
        let norms = w.outputNorm.count + w.layers.reduce(0) { $0 + $1.attentionNorm.count + $1.ffnNorm.count }
        #expect(summary.parameterCount == w.embedding.rows * w.embedding.columns + norms + linear)
        #expect(summary.linearParameterCount == linear && summary.formats["NF4+DQ"] == 7)
        let nf4Bytes = try written.values.reduce(0) { $0 + (try FrozenMatrix(name: "m", nf4: $1)).storedBytes }
        #expect(summary.linearBytes(.default) == nf4Bytes)
        // Stored: NF4 data plus the quant maps (16 + 256 floats) and the JSON states.
        #expect(summary.linearStoredBytes > nf4Bytes && summary.linearStoredBytes < nf4Bytes + 7 * (272 * 4 + 300))
    }

    /// Each corruption is refused with an error naming the tensor and the field.
    @Test(arguments: [
        "shape", "blocksize", "quant_type", "fp4", "quant_map", "packed", "absmax_count",
        "missing_nested", "u8_absmax_plain", "nested_quant_map", "nested_blocksize", "json", "missing_state",
    ])
    func corruptQuantStateIsNamed(_ corruption: String) throws {
        let model = try tinyLlama(config: configs[0], seed: 4)
        let dq = !["u8_absmax_plain"].contains(corruption)
        let stateName = target + ".quant_state.bitsandbytes__nf4"
        var expectedField = corruption
        let (dir, _) = try writeBnbDirectory(model, doubleQuant: dq) { entries in
            func editState(_ change: (inout [String: Any]) -> Void) throws {
                let bytes = try #require(entries[stateName]).bytes
                var state = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
                change(&state)
                let json = try jsonBytes(state)
                entries[stateName] = Entry(dtype: .u8, shape: [json.count], bytes: json)
            }
            switch corruption {
            case "shape": try editState { $0["shape"] = [8, 36] }
            case "blocksize": try editState { $0["blocksize"] = 128 }
            case "quant_type": try editState { $0["quant_type"] = "fp4" }
            case "nested_blocksize": try editState { $0["nested_blocksize"] = 128 }
            case "fp4":
                entries[target + ".quant_state.bitsandbytes__fp4"] = entries.removeValue(forKey: stateName)
                expectedField = "quant_state.bitsandbytes__fp4"
            case "quant_map":
                entries[target + ".quant_map"]?.bytes[4] ^= 1
            case "packed":
                entries[target]?.bytes.removeLast()
                entries[target]?.shape = [143, 1]
                expectedField = "weight"
            case "absmax_count":
                entries[target + ".absmax"]?.bytes.removeLast()
                entries[target + ".absmax"]?.shape[0] -= 1
                expectedField = "absmax"
            case "missing_nested":
                entries[target + ".nested_absmax"] = nil
                expectedField = "nested_absmax"
            case "u8_absmax_plain":
                // A plain state whose absmax is 8-bit codes: double-quant fields are missing.
                let count = try #require(entries[target + ".absmax"]).shape[0]
                entries[target + ".absmax"] = Entry(dtype: .u8, shape: [count], bytes: [UInt8](repeating: 1, count: count))
                expectedField = "absmax"
            case "nested_quant_map":
                entries[target + ".nested_quant_map"]?.bytes[0] ^= 1
            case "json":
                entries[stateName] = Entry(dtype: .u8, shape: [3], bytes: Array("{no".utf8))
                expectedField = "quant_state.bitsandbytes__nf4"
            case "missing_state":
                entries[stateName] = nil
                expectedField = "weight"
            default:
                Issue.record("unknown corruption \(corruption)")
            }
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: LlamaModelError.self) { try Llama.load(huggingFaceDirectory: dir.path) }
        let text = error?.description ?? ""
        #expect(text.contains("'\(target)'") && text.contains("\(expectedField):"), "\(corruption): \(text)")
    }
}
