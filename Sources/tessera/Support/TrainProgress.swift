// Rank 0's view of a training run. On a terminal: one live line rewritten in place (carriage
// return + erase to end of line) with step/total, loss, lr, tokens/s, elapsed and ETA; lines
// that must stay (evaluations, checkpoints) are printed above it. Elsewhere (a log file, a
// pipe): a plain line every `logEvery` steps, on the first and last step, and on eval steps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Kernels
import Training

final class TrainProgress {
    let totalSteps: Int
    let logEvery: Int
    let isTerminal: Bool
    private let started = monotonicSeconds()
    private let firstStep: Int
    private var liveLineShown = false

    /// - Parameters:
    ///   - startStep: steps already done (a resumed run), so the ETA uses this session's pace.
    ///   - logEvery: plain-line interval; nil: about 5% of the run.
    init(totalSteps: Int, startStep: Int, logEvery: Int?, isTerminal: Bool = isatty(STDOUT_FILENO) == 1) {
        self.totalSteps = totalSteps
        firstStep = startStep
        self.logEvery = logEvery ?? max(1, totalSteps / 20)
        self.isTerminal = isTerminal
    }

    /// Reports a finished step (and its evaluation, when there was one).
    func step(_ report: StepReport, evalLoss: Double?) {
        let elapsed = monotonicSeconds() - started
        let done = report.step - firstStep
        let eta = done > 0 ? elapsed / Double(done) * Double(totalSteps - report.step) : 0
        let eval = evalLoss.map { String(format: "  eval_loss %.4f", $0) } ?? ""
        if isTerminal {
            let width = String(totalSteps).count
            let bar = Self.bar(fraction: Double(report.step) / Double(max(totalSteps, 1)), width: 20)
            let line = String(format: "step %\(width)d/%d %@ loss %.4f  lr %.2e  %.0f tok/s  %@ elapsed  ETA %@",
                              report.step, totalSteps, bar, report.loss, report.learningRate, report.tokensPerSecond,
                              Self.clock(elapsed), Self.clock(eta))
            if let evalLoss { note(String(format: "step %d: eval_loss %.4f", report.step, evalLoss)) }
            write("\r" + line + "\u{1B}[K")
            liveLineShown = true
            if report.step == totalSteps { finish() }
        } else if report.step % logEvery == 0 || report.step == firstStep + 1 || report.step == totalSteps || evalLoss != nil {
            Console.print(String(format: "step %d/%d  loss %.4f%@  lr %.2e  grad_norm %.3f  %.0f tokens/s  epoch %.2f  elapsed %@  eta %@",
                                 report.step, totalSteps, report.loss, eval, report.learningRate, report.gradNorm,
                                 report.tokensPerSecond, report.epoch, Self.clock(elapsed), Self.clock(eta)))
        }
    }

    /// Prints a line that stays, above the live line on a terminal.
    func note(_ line: String) {
        if isTerminal && liveLineShown { write("\r\u{1B}[K") }
        Console.print(line)
    }

    /// Ends the live line so later output starts on a fresh line.
    func finish() {
        if isTerminal && liveLineShown { write("\n") }
        liveLineShown = false
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// `[=====>    ]`.
    static func bar(fraction: Double, width: Int) -> String {
        let filled = max(0, min(width, Int((fraction * Double(width)).rounded(.down))))
        let head = filled < width ? ">" : ""
        return "[" + String(repeating: "=", count: filled) + head + String(repeating: " ", count: max(0, width - filled - head.count)) + "]"
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: Double) -> String {
        let total = Int(max(0, seconds).rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
