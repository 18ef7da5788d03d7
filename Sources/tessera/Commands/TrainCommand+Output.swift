// What `tessera train` writes: OUT/config.yaml and metrics.jsonl at the start (rank 0), and the
// checkpoints. A checkpoint is three agreed phases so a failure on any rank stops every rank
// without publishing anything: rank 0 prepares the staging directory; dp rank 0 of each TP
// group writes its AdamW moments and rank 0 the gathered adapter and state; rank 0 checksums
// and publishes it (CheckpointStore.commit).
import ArgumentParser
import Collectives
import Foundation
import LoRA
import Training

extension TrainCommand {
    /// Rank 0's start of the output: the resolved config, a fresh or trimmed metrics file, and
    /// (with --overwrite) the old run's checkpoints removed.
    func startOutput(_ setup: Setup) throws -> MetricsWriter {
        let outputDirectory = URL(fileURLWithPath: setup.config.outputDir)
        if overwrite && setup.resumedFrom == nil {
            try CheckpointStore(outputDirectory: outputDirectory).removeAll()
        }
        try TrainConfigFile.write(setup.config, to: outputDirectory.appendingPathComponent("config.yaml"))
        return try MetricsWriter(path: metricsPath(setup.config), keepingStepsThrough: setup.startStep)
    }

    /// Saves the state after `step` steps as OUT/checkpoints/step-NNNNNN (collective). A write
    /// that fails on any rank (disk full, quota, I/O error) is an agreed failure on every rank,
    /// naming the file and the error; the staging directory is removed (freeing its space) and
    /// the published checkpoints are untouched.
    func saveCheckpoint(step: Int, setup: Setup, world: Communicator) throws -> URL {
        let store = CheckpointStore(outputDirectory: URL(fileURLWithPath: setup.config.outputDir))
        do {
            return try writeCheckpoint(step: step, setup: setup, world: world, store: store)
        } catch let failure as AgreedFailure {
            if world.isRoot { try? FileManager.default.removeItem(at: store.staging(step: step)) }
            let intact = store.completed().last.map { "newest intact checkpoint: \($0.directory.path)" } ?? "no earlier checkpoint"
            throw SaveFailure(message: "checkpoint of step \(step) not saved: \(failure.message); \(intact)")
        }
    }

    private func writeCheckpoint(step: Int, setup: Setup, world: Communicator, store: CheckpointStore) throws -> URL {
        let trainer = setup.trainer
        try trainer.gatherAdapter(into: setup.adapter)
        try MPISession.agreed(world) { if world.isRoot { _ = try store.beginStaging(step: step) } }
        try MPISession.agreed(world) {
            let staging = store.staging(step: step)
            let optimizer = trainer.optimizer.state()
            if setup.mesh.dpRank == 0 {
                let name = Checkpoint.optimizerFileName(tpRank: setup.mesh.tpRank, tp: setup.mesh.shape.tp)
                try Checkpoint.writeOptimizer(optimizer, adapter: trainer.adapter, tp: setup.mesh.shape.tp,
                                              to: staging.appendingPathComponent(name))
            }
            if world.isRoot {
                try setup.adapter.save(to: staging.appendingPathComponent(Checkpoint.adapterDirectoryName))
                let state = CheckpointState(
                    step: step, totalSteps: setup.steps, seed: setup.config.seed, adamwStep: optimizer.step,
                    learningRate: trainer.optimizer.hyperparameters.learningRate,
                    mesh: CheckpointMesh(tp: setup.mesh.shape.tp, dp: setup.mesh.shape.dp),
                    configIdentity: setup.configIdentity, modelIdentity: setup.modelIdentity)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try CheckpointStore.writeDurably(try encoder.encode(state), to: staging.appendingPathComponent(Checkpoint.stateName))
            }
        }
        return try MPISession.agreed(world) {
            world.isRoot ? try store.commit(step: step, keepLast: setup.config.keepLast)
                : store.root.appendingPathComponent(Checkpoint.directoryName(step: step))
        }
    }
}

/// A checkpoint or adapter write that failed on some rank, known to every rank (an agreed
/// failure): the run stops with exit 1, or goes on with --on-save-error continue.
struct SaveFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// `--on-save-error`.
enum SaveErrorPolicy: String, ExpressibleByArgument, CaseIterable {
    case stop, `continue`
}

/// Appends one JSON object per step to the metrics file (`eval_loss` on evaluated steps).
final class MetricsWriter {
    private let handle: FileHandle
    let path: String

    /// Opens `path`; lines of steps after `keepingStepsThrough` (a resumed run's future) are
    /// dropped, so a resumed run's file reads like an uninterrupted one.
    init(path: String, keepingStepsThrough kept: Int) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var keptLines = Data()
        if kept > 0, let old = FileManager.default.contents(atPath: path) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                if let step = object?["step"] as? Int, step <= kept { keptLines += Data(line) + Data("\n".utf8) }
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: keptLines), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write the metrics file \(path)")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        self.path = path
    }

    func write(_ report: StepReport, evalLoss: Double?) throws {
        var object: [String: Any] = [
            "step": report.step, "loss": report.loss, "lr": report.learningRate, "grad_norm": report.gradNorm,
            "tokens": report.tokens, "counted_tokens": report.countedTargets, "tokens_per_s": report.tokensPerSecond,
            "seconds": report.seconds, "epoch": report.epoch,
        ]
        if let evalLoss { object["eval_loss"] = evalLoss }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try handle.write(contentsOf: data + Data("\n".utf8))
    }
}
