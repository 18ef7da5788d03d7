// What `tessera train` writes besides the session's checkpoints and adapter
// (TrainingSession+Checkpoints.swift): OUT/config.yaml, metrics.jsonl and TensorBoard event files
// in OUT/tensorboard (rank 0).
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
        let tensorBoard = reportTo.contains(.tensorboard)
            ? (setup.config.outputDir as NSString).appendingPathComponent("tensorboard") : nil
        return try MetricsWriter(path: metricsPath(setup.config), keepingStepsThrough: setup.startStep,
                                 tensorBoardDirectory: tensorBoard)
    }
}

/// `--report-to`: where metrics go besides metrics.jsonl.
enum ReportTarget: String, ExpressibleByArgument, CaseIterable {
    case tensorboard, none
}

/// `--on-save-error`.
enum SaveErrorPolicy: String, ExpressibleByArgument, CaseIterable {
    case stop, `continue`
}

/// Appends one JSON object per step to the metrics file (`eval_loss` on evaluated steps) and, when
/// asked, the same figures as TensorBoard scalars (`train/loss`, `train/learning_rate`,
/// `train/grad_norm`, `train/tokens_per_s`, `train/epoch`, `eval/loss`).
final class MetricsWriter {
    private let handle: FileHandle
    private let events: FileHandle?
    let path: String

    /// Opens `path`; lines of steps after `keepingStepsThrough` (a resumed run's future) are
    /// dropped, so a resumed run's file reads like an uninterrupted one. The TensorBoard directory's
    /// event files are rewritten from the kept lines for the same reason.
    init(path: String, keepingStepsThrough kept: Int, tensorBoardDirectory: String?) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var keptLines = Data()
        var keptObjects: [[String: Any]] = []
        if kept > 0, let old = FileManager.default.contents(atPath: path) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                if let object, let step = object["step"] as? Int, step <= kept {
                    keptLines += Data(line) + Data("\n".utf8)
                    keptObjects.append(object)
                }
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: keptLines), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot write the metrics file \(path)")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        self.path = path
        events = try tensorBoardDirectory.map { try Self.openEventFile(in: $0) }
        for object in keptObjects { try writeEvents(object) }
    }

    /// A new event file in `directory`, after removing the old ones (their steps are rewritten).
    private static func openEventFile(in directory: String) throws -> FileHandle {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix("events.out.tfevents.") {
            try? manager.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
        }
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName
        let file = (directory as NSString).appendingPathComponent("events.out.tfevents.\(Int(now)).\(host).\(getpid()).0")
        guard manager.createFile(atPath: file, contents: Data(TensorBoardEvents.fileVersion(wallTime: now))),
              let handle = FileHandle(forWritingAtPath: file) else {
            throw ValidationError("cannot write the TensorBoard event file \(file)")
        }
        handle.seekToEndOfFile()
        return handle
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
        try writeEvents(object)
    }

    /// One metrics line as TensorBoard scalars.
    private func writeEvents(_ object: [String: Any]) throws {
        guard let events, let step = object["step"] as? Int else { return }
        let tags = [("loss", "train/loss"), ("lr", "train/learning_rate"), ("grad_norm", "train/grad_norm"),
                    ("tokens_per_s", "train/tokens_per_s"), ("epoch", "train/epoch"), ("eval_loss", "eval/loss")]
        let scalars = tags.compactMap { key, tag in (object[key] as? Double).map { (tag: tag, value: Float($0)) } }
        try events.write(contentsOf: Data(TensorBoardEvents.scalars(scalars, step: step, wallTime: Date().timeIntervalSince1970)))
    }
}
