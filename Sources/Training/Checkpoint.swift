// What a checkpoint holds and how it is read back. A checkpoint is a directory
// OUT/checkpoints/step-NNNNNN/:
//   adapter/adapter_config.json, adapter/adapter_model.safetensors  the full adapter (PEFT layout)
//   optimizer-tpT-of-N.safetensors   AdamW moments of TP rank T's factor slices (replicated over
//                                    DP, so one file per TP rank), keyed by PEFT name + slice
//   state.json                       step (= data cursor and schedule position), seed, mesh,
//                                    AdamW step count, run identity
//   manifest.json                    SHA-256 and size of every other file; written last
// The data order and dropout are pure functions of (seed, step), so the step is the whole RNG
// state. Writing (atomic directory rename, pruning) is in CheckpointStore.swift.

import Foundation

/// Errors of checkpoint writing, reading and resume checks; each names the file or field.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case corrupt(String, String)
    case mismatch(String)
    case notFound(String)
    case io(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path, let detail): return "\(path): cannot read: \(detail)"
        case .corrupt(let path, let detail): return "\(path): checkpoint is damaged: \(detail)"
        case .mismatch(let detail): return "cannot resume: \(detail)"
        case .notFound(let detail): return detail
        case .io(let path, let detail): return "\(path): \(detail)"
        }
    }
}

/// The process mesh a checkpoint was written on.
public struct CheckpointMesh: Codable, Sendable, Equatable {
    public var tp: Int
    public var dp: Int
    public init(tp: Int, dp: Int) {
        self.tp = tp
        self.dp = dp
    }
}

/// `state.json`: everything beyond tensors that a resumed run needs.
public struct CheckpointState: Codable, Sendable, Equatable {
    public static let currentFormat = "tessera-checkpoint-1"
    public var format = CheckpointState.currentFormat
    /// Optimizer steps completed: the next step's index, the data cursor and schedule position.
    public var step: Int
    /// Length of the run's schedule.
    public var totalSteps: Int
    public var seed: UInt64
    /// AdamW's step count (bias correction).
    public var adamwStep: Int
    /// Learning rate of the last step taken.
    public var learningRate: Double
    public var mesh: CheckpointMesh
    /// Optimizer files, in TP rank order.
    public var optimizerFiles: [String]
    /// Resume-relevant settings (TrainConfig.resumeIdentity).
    public var configIdentity: [String: String]
    /// Size and header hash of the base model (RunIdentity.model).
    public var modelIdentity: String

    enum CodingKeys: String, CodingKey {
        case format, step, seed, mesh
        case totalSteps = "total_steps", adamwStep = "adamw_step", learningRate = "learning_rate"
        case optimizerFiles = "optimizer_files", configIdentity = "config_identity", modelIdentity = "model_identity"
    }

    public init(step: Int, totalSteps: Int, seed: UInt64, adamwStep: Int, learningRate: Double, mesh: CheckpointMesh,
                configIdentity: [String: String], modelIdentity: String) {
        self.step = step
        self.totalSteps = totalSteps
        self.seed = seed
        self.adamwStep = adamwStep
        self.learningRate = learningRate
        self.mesh = mesh
        self.optimizerFiles = (0..<mesh.tp).map { Checkpoint.optimizerFileName(tpRank: $0, tp: mesh.tp) }
        self.configIdentity = configIdentity
        self.modelIdentity = modelIdentity
    }

    /// Refuses to continue a run whose identity differs: another model, other settings, or
    /// another tensor-parallel size (the moment files hold TP slices).
    public func checkCompatible(configIdentity current: [String: String], modelIdentity model: String, tp: Int) throws(CheckpointError) {
        guard model == modelIdentity else {
            throw .mismatch("the checkpoint was trained on another base model (\(modelIdentity)); this run uses \(model)")
        }
        let keys = Set(current.keys).union(configIdentity.keys).sorted()
        let differing = keys.filter { current[$0] != configIdentity[$0] }
        guard differing.isEmpty else {
            let lines = differing.prefix(6).map { "\($0): checkpoint \(configIdentity[$0] ?? "(none)"), now \(current[$0] ?? "(none)")" }
            throw .mismatch("the checkpoint belongs to a run with other settings — \(lines.joined(separator: "; ")); resume with the same config (only output_dir, save_every, keep_last, log_every, eval_every, micro-batching and activation checkpointing may change)")
        }
        guard tp == mesh.tp else {
            throw .mismatch("the checkpoint was written with tp \(mesh.tp) and this run has tp \(tp); resume with --tp \(mesh.tp) (the data-parallel size may change, the tensor-parallel size may not)")
        }
    }
}

/// One manifest entry.
public struct ManifestEntry: Codable, Sendable, Equatable {
    public var sha256: String
    public var bytes: Int
}

/// `manifest.json`.
public struct CheckpointManifest: Codable, Sendable, Equatable {
    public var step: Int
    /// Relative path → checksum, for every file of the checkpoint except the manifest.
    public var files: [String: ManifestEntry]
}

/// A finished checkpoint directory, verified against its manifest.
public struct Checkpoint: Sendable {
    public static let manifestName = "manifest.json"
    public static let stateName = "state.json"
    public static let adapterDirectoryName = "adapter"

    public let directory: URL
    public let state: CheckpointState

    /// The directory name of step `step` (zero-padded so names sort by step).
    public static func directoryName(step: Int) -> String { "step-" + String(format: "%06d", step) }

    /// The moments file of TP rank `tpRank` of `tp`.
    public static func optimizerFileName(tpRank: Int, tp: Int) -> String { "optimizer-tp\(tpRank)-of-\(tp).safetensors" }

    public var adapterDirectory: URL { directory.appendingPathComponent(Self.adapterDirectoryName) }

    /// Opens `directory`, checks every file against the manifest and decodes the state.
    public init(directory: URL) throws(CheckpointError) {
        let manifestURL = directory.appendingPathComponent(Self.manifestName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw .notFound("\(directory.path) is not a finished checkpoint (no \(Self.manifestName))")
        }
        let manifest: CheckpointManifest = try Self.decode(manifestURL)
        guard manifest.files[Self.stateName] != nil else { throw .corrupt(manifestURL.path, "the manifest does not list \(Self.stateName)") }
        for (name, entry) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let path = directory.appendingPathComponent(name).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            guard let size else { throw .corrupt(path, "listed in the manifest but missing") }
            guard size == entry.bytes else { throw .corrupt(path, "\(size) bytes, the manifest says \(entry.bytes)") }
            let digest: String
            do { digest = try SHA256.hex(ofFile: path) } catch { throw .unreadable(path, "\(error)") }
            guard digest == entry.sha256 else { throw .corrupt(path, "SHA-256 \(digest) differs from the manifest's \(entry.sha256)") }
        }
        self.directory = directory
        state = try Self.decode(directory.appendingPathComponent(Self.stateName))
        guard state.format == CheckpointState.currentFormat else {
            throw .corrupt(directory.path, "format '\(state.format)', this tessera reads '\(CheckpointState.currentFormat)'")
        }
        for file in state.optimizerFiles where manifest.files[file] == nil {
            throw .corrupt(directory.path, "\(file) is not in the manifest")
        }
    }

    static func decode<T: Decodable>(_ url: URL) throws(CheckpointError) -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(url.path, error.localizedDescription) }
        do { return try JSONDecoder().decode(T.self, from: data) } catch { throw .corrupt(url.path, "\(error)") }
    }
}
