// The AdamW moments of one tensor-parallel rank in a checkpoint: a safetensors file with
// `<PEFT name>.exp_avg` and `<PEFT name>.exp_avg_sq` for each of the rank's factor slices, in
// the slice's own shape (A: [r, I_local], B: [O_local, r]), and metadata naming each slice
// (`slice.<PEFT name>` = "dim:lo:hi" of the full tensor) and AdamW's step count. Moments are
// identical on every DP rank of a TP group, so any DP size can read them back; the TP size must
// match because the slices must.

import Foundation
import LoRA
import ModelFormats
import Parallelism

extension Checkpoint {
    static let optimizerFormat = "tessera-adamw-1"

    /// The slice of the full PEFT tensor each optimizer parameter of `adapter` holds, by name.
    static func slices(of adapter: ShardedLoRAAdapter) -> [String: String] {
        Dictionary(uniqueKeysWithValues: adapter.tensors.map { ($0.name, $0.sliceDescription) })
    }

    /// Local shape of each optimizer parameter of `adapter`, by name.
    static func shapes(of adapter: ShardedLoRAAdapter) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: adapter.tensors.map { ($0.name, $0.localShape) })
    }

    /// Writes this rank's optimizer state (parameters named as in `adapter`) to `url`.
    public static func writeOptimizer(_ state: AdamWState, adapter: ShardedLoRAAdapter, tp: Int, to url: URL) throws(CheckpointError) {
        let slices = slices(of: adapter), shapes = shapes(of: adapter)
        var metadata = ["format": optimizerFormat, "adamw_step": String(state.step), "tp_rank": String(adapter.tpRank),
                        "tp": String(tp)]
        var writer = SafeTensorsWriter()
        do {
            for (index, name) in state.names.enumerated() {
                guard let shape = shapes[name], let slice = slices[name] else {
                    throw CheckpointError.mismatch("optimizer parameter '\(name)' is not a factor of this rank's adapter")
                }
                metadata["slice.\(name)"] = slice
                try writer.add(name: name + ".exp_avg", shape: shape, floats: state.expAvg[index])
                try writer.add(name: name + ".exp_avg_sq", shape: shape, floats: state.expAvgSq[index])
            }
            writer.metadata = metadata
            try writer.write(to: url.path)
        } catch let error as CheckpointError {
            throw error
        } catch let ModelFormatsError.io(file, detail) {
            throw .io(file, "cannot write the optimizer state: \(detail)")
        } catch {
            throw .io(url.path, "cannot write the optimizer state: \(error)")
        }
    }

    /// Reads the optimizer state of TP rank `adapter.tpRank` for parameters `names` (the
    /// optimizer's order), checking the format, the TP size, every slice and every shape.
    public func readOptimizer(adapter: ShardedLoRAAdapter, names: [String]) throws(CheckpointError) -> AdamWState {
        guard state.optimizerFiles.indices.contains(adapter.tpRank) else {
            throw .mismatch("the checkpoint has \(state.optimizerFiles.count) optimizer files and this is TP rank \(adapter.tpRank)")
        }
        let path = directory.appendingPathComponent(state.optimizerFiles[adapter.tpRank]).path
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw .unreadable(path, "\(error)") }
        guard file.metadata["format"] == Self.optimizerFormat else {
            throw .corrupt(path, "format \(file.metadata["format"] ?? "(none)"), expected \(Self.optimizerFormat)")
        }
        guard file.metadata["tp"] == String(state.mesh.tp), file.metadata["tp_rank"] == String(adapter.tpRank) else {
            throw .corrupt(path, "written for tp rank \(file.metadata["tp_rank"] ?? "?") of \(file.metadata["tp"] ?? "?")")
        }
        guard let stepText = file.metadata["adamw_step"], let step = Int(stepText), step >= 0 else {
            throw .corrupt(path, "no valid adamw_step in the metadata")
        }
        let slices = Self.slices(of: adapter), shapes = Self.shapes(of: adapter)
        var expAvg: [[Float]] = [], expAvgSq: [[Float]] = []
        for name in names {
            guard let stored = file.metadata["slice.\(name)"] else {
                throw .mismatch("\(path) holds no moments for '\(name)' (the adapter's targets or rank differ)")
            }
            guard stored == slices[name] else {
                throw .mismatch("\(path): '\(name)' was sliced as \(stored), this rank holds \(slices[name] ?? "nothing")")
            }
            for (suffix, index) in [(".exp_avg", 0), (".exp_avg_sq", 1)] {
                guard let tensor = file.tensor(named: name + suffix), tensor.shape == shapes[name] else {
                    throw .corrupt(path, "tensor '\(name + suffix)' is missing or not \(shapes[name] ?? [])")
                }
                let values: [Float]
                do { values = try file.floats(for: tensor) } catch { throw .corrupt(path, "'\(name + suffix)': \(error)") }
                if index == 0 { expAvg.append(values) } else { expAvgSq.append(values) }
            }
        }
        return AdamWState(step: step, names: names, expAvg: expAvg, expAvgSq: expAvgSq)
    }
}
