// What `tessera train` writes besides the session's checkpoints and adapter
// (TrainingSession+Checkpoints.swift): OUT/config.yaml and metrics.jsonl (rank 0).
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
