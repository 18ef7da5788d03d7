// The training session run on two threads of a (tp, dp) = (2, 1) mesh (in-memory process groups):
// shard plan, sharded load of random weights, steps, checkpoints on schedule, a stop requested at
// a step boundary (saved as a checkpoint, agreed by both ranks), and a new session resumed from
// that checkpoint whose next steps' losses equal the uninterrupted run's bit for bit
// (docs/preemption.md's promise, here without MPI or a command line).

import Foundation
import LlamaModel
import LoRA
import ModelIO
import Parallelism
import ProcessGroups
import Testing
import TestSupport
import Training

/// Hidden 128, FFN 128, 4 heads of 32 in 2 KV groups: every tensor-parallel slice of 2 ranks
/// falls on NF4 blocks of 64.
private let tinyConfig = LlamaConfig(hiddenSize: 128, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4,
                                     numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 10_000, vocabSize: 48,
                                     maxPositionEmbeddings: 64, tieWordEmbeddings: true)
private let lora = LoRAConfig(r: 4, loraAlpha: 8, targetModules: .allLinear)
private let totalSteps = 4

private func examples() -> [TokenizedExample] {
    var state: UInt64 = 17
    return (0..<12).map { e in
        let ids = (0..<(6 + e % 7)).map { _ -> Int in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % tinyConfig.vocabSize
        }
        return TokenizedExample(inputIDs: ids, labels: ids)
    }
}

/// A session on this rank of `mesh`: random NF4 weights (seed 3), the adapter from `checkpoint`
/// (with its optimizer state) or freshly initialised.
private func session(_ mesh: ProcessMesh, resumingFrom checkpoint: Checkpoint? = nil) throws -> TrainingSession {
    let stream = try TrainingStream(examples: examples(), maxSeqLen: 16, packing: true, seed: 5)
    let options = TrainerOptions(steps: totalSteps, globalBatchSize: 2, maxSeqLen: 16, learningRate: 5e-3, seed: 9)
    let session = try TrainingSession(source: .config(path: "tiny", tinyConfig), mesh: mesh, baseQuantization: .nf4(doubleQuantization: true),
                                      weightSeed: 3, stream: stream, options: options) { model in
        try checkpoint.map { try LoRAAdapter.load(from: $0.adapterDirectory, model: model) }
            ?? LoRAAdapter(config: lora, model: model, seed: 7)
    }
    if let checkpoint { try session.restoreOptimizer(from: checkpoint) }
    return session
}

private func policy(_ directory: URL) -> CheckpointPolicy {
    CheckpointPolicy(store: CheckpointStore(outputDirectory: directory), every: 3, keepLast: 5,
                     configIdentity: ["test": "session"], modelIdentity: "tiny")
}

/// What one rank saw.
private struct RankRecord: Sendable {
    var uninterrupted: [Double] = []
    var saved: [Int] = []
    var finished: URL?
    var stoppedAt: Int = -1
    var stopCheckpoint: URL?
    var stopAgain: TrainingOutcome?
    var resumed: [Double] = []
    var shardColumns: Range<Int> = 0..<0
}

@Suite struct TrainingSessionTests {
    @Test func stopSavesAndResumeContinuesBitForBitOnATwoRankMesh() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-session-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (whole, stopped) = (root.appendingPathComponent("whole"), root.appendingPathComponent("stopped"))
        let threaded = ThreadedMesh(tp: 2, dp: 1)
        let results = runOnThreads(2) { w -> RankRecord in
            let g = threaded.groups[w]
            let mesh = try ProcessMesh(world: g.world, tensorParallel: g.tensorParallel, dataParallel: g.dataParallel)
            var record = RankRecord()

            let a = try session(mesh)
            record.shardColumns = a.shards[mesh.tpRank].ffnColumns
            let outcome = try a.run(TrainingRun(endStep: totalSteps, checkpoints: policy(whole))) { event in
                switch event {
                case .step(let report, _): record.uninterrupted.append(report.loss)
                case .saved(let step, _): record.saved.append(step)
                default: break
                }
            }
            if case .finished(let last) = outcome { record.finished = last }

            // Stopped before the third step: the two steps are saved (no periodic save holds them).
            let b = try session(mesh)
            let stop = try b.run(TrainingRun(endStep: totalSteps, checkpoints: policy(stopped)), boundary: { $0 == 2 }) { _ in }
            if case .stopped(let step, let checkpoint) = stop { (record.stoppedAt, record.stopCheckpoint) = (step, checkpoint) }

            // Resumed: a stop at once saves nothing new; then steps 3 and 4 run, with the AdamW
            // moments of the checkpoint (without them step 4's loss would differ).
            let checkpoint = try Checkpoint(directory: try #require(record.stopCheckpoint))
            let c = try session(mesh, resumingFrom: checkpoint)
            let run = TrainingRun(startStep: 2, endStep: totalSteps, checkpoints: policy(stopped), resumedFrom: checkpoint.directory)
            record.stopAgain = try c.run(run, boundary: { _ in true }) { _ in }
            _ = try c.run(run) { event in
                if case .step(let report, _) = event { record.resumed.append(report.loss) }
            }
            return record
        }
        let records = try results.map { try $0.get() }
        #expect(records.map(\.shardColumns) == [0..<64, 64..<128])
        for (w, record) in records.enumerated() {
            #expect(record.uninterrupted.count == totalSteps && record.uninterrupted.allSatisfy(\.isFinite), "rank \(w): \(record.uninterrupted)")
            #expect(record.uninterrupted == records[0].uninterrupted, "the ranks of one TP group report the same losses")
            #expect(record.saved == [3, 4], "rank \(w): checkpoints at steps \(record.saved)")
            #expect(record.finished?.lastPathComponent == Checkpoint.directoryName(step: 4))
            #expect(record.stoppedAt == 2 && record.stopCheckpoint?.lastPathComponent == Checkpoint.directoryName(step: 2))
            #expect(record.stopAgain == .stopped(afterStep: 2, checkpoint: record.stopCheckpoint))
            #expect(record.resumed == Array(record.uninterrupted[2...]), "rank \(w): resumed losses \(record.resumed) vs \(record.uninterrupted[2...])")
        }
        // Each TP rank's AdamW moments are in the stopped run's checkpoint.
        let files = try FileManager.default.contentsOfDirectory(atPath: try #require(records[0].stopCheckpoint).path)
        #expect(files.filter { $0.hasPrefix("optimizer") }.count == 2, "\(files)")
        // The losses move: the adapter trains.
        #expect(records[0].uninterrupted[0] != records[0].uninterrupted[3])
    }
}
