// What a training session writes and reads back. A checkpoint is three agreed phases, so a
// failure on any rank stops every rank without publishing anything: rank 0 prepares the staging
// directory; dp rank 0 of each TP group writes its AdamW moments and rank 0 the gathered adapter
// and state; rank 0 checksums and publishes it (CheckpointStore.commit).
import Foundation
import LoRA
import ProcessGroups

/// A checkpoint or adapter write that failed on some rank, known to every rank (an agreed
/// failure): the run stops with exit 1, or goes on (`CheckpointPolicy.continueOnFailure`).
public struct SaveFailure: Error, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension TrainingSession {
    /// Saves the state after `step` steps as a checkpoint of `policy.store` (collective). A write
    /// that fails on any rank (disk full, quota, I/O error) is a `SaveFailure` on every rank,
    /// naming the file and the error; the staging directory is removed (freeing its space) and
    /// the published checkpoints are untouched.
    public func saveCheckpoint(step: Int, policy: CheckpointPolicy) throws -> URL {
        let world = mesh.world
        do {
            return try writeCheckpoint(step: step, policy: policy)
        } catch let failure as AgreedFailure {
            if world.isRoot { try? FileManager.default.removeItem(at: policy.store.staging(step: step)) }
            let intact = policy.store.completed().last.map { "newest intact checkpoint: \($0.directory.path)" } ?? "no earlier checkpoint"
            throw SaveFailure(message: "checkpoint of step \(step) not saved: \(failure.message); \(intact)")
        }
    }

    private func writeCheckpoint(step: Int, policy: CheckpointPolicy) throws -> URL {
        let (world, store) = (mesh.world, policy.store)
        try trainer.gatherAdapter(into: adapter)
        try world.agreed { if world.isRoot { _ = try store.beginStaging(step: step) } }
        try world.agreed {
            let staging = store.staging(step: step)
            let optimizer = trainer.optimizer.state()
            if mesh.dpRank == 0 {
                let name = Checkpoint.optimizerFileName(tpRank: mesh.tpRank, tp: mesh.shape.tp)
                try Checkpoint.writeOptimizer(optimizer, adapter: trainer.adapter, tp: mesh.shape.tp,
                                              to: staging.appendingPathComponent(name))
            }
            if world.isRoot {
                try adapter.save(to: staging.appendingPathComponent(Checkpoint.adapterDirectoryName))
                let state = CheckpointState(
                    step: step, totalSteps: trainer.options.steps, seed: trainer.options.seed, adamwStep: optimizer.step,
                    learningRate: trainer.optimizer.hyperparameters.learningRate,
                    mesh: CheckpointMesh(tp: mesh.shape.tp, dp: mesh.shape.dp),
                    configIdentity: policy.configIdentity, modelIdentity: policy.modelIdentity)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try CheckpointStore.writeDurably(try encoder.encode(state), to: staging.appendingPathComponent(Checkpoint.stateName))
            }
        }
        return try world.agreed {
            world.isRoot ? try store.commit(step: step, keepLast: policy.keepLast)
                : store.root.appendingPathComponent(Checkpoint.directoryName(step: step))
        }
    }

    /// The trained adapter gathered and written to `directory` by rank 0 (collective). A failed
    /// write is a `SaveFailure` on every rank, naming `lastCheckpoint` (which holds the same
    /// adapter) when there is one.
    public func saveAdapter(to directory: URL, lastCheckpoint: URL?) throws {
        try trainer.gatherAdapter(into: adapter)
        do {
            try mesh.world.agreed { if mesh.world.isRoot { try adapter.save(to: directory) } }
        } catch let failure as AgreedFailure {
            let checkpoint = lastCheckpoint.map { "; the same adapter is in the final checkpoint \($0.path)/adapter" } ?? ""
            throw SaveFailure(message: "adapter not saved: \(failure.message)\(checkpoint)")
        }
    }

    /// Continues from `checkpoint`: the AdamW moments and step of this rank's slice (the adapter
    /// itself comes from `checkpoint.adapterDirectory` when the session is made).
    public func restoreOptimizer(from checkpoint: Checkpoint) throws {
        let names = trainer.optimizer.state().names
        try trainer.optimizer.restore(try checkpoint.readOptimizer(adapter: trainer.adapter, names: names))
    }
}
