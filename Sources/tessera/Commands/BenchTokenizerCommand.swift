import ArgumentParser
import Foundation
import Kernels
import LlamaModel
import ModelIO
import Tokenization

/// `tessera bench tokenizer`: encoding throughput on one core.
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Measure tokenizer encoding speed (MB/s of text on one core).")

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Text file to encode (for example an English document).") var file: String
    @Option(help: "Seconds to keep encoding.") var seconds = 2.0
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read \(file)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let loadStart = monotonicSeconds()
        let tokenizer = try BPETokenizer(ModelPath(modelOption.resolved).tokenizerDefinition())
        let loadSeconds = monotonicSeconds() - loadStart
        // Encode line by line, as a data loader does; the first pass fills the word cache the
        // same way a real run would over its first epoch.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var bytes = 0, tokens = 0, passes = 0
        var firstPassSeconds = 0.0
        let start = monotonicSeconds()
        repeat {
            for line in lines {
                tokens += tokenizer.encode(line).count
                bytes += line.utf8.count + 1
            }
            passes += 1
            if passes == 1 { firstPassSeconds = monotonicSeconds() - start }
        } while monotonicSeconds() - start < seconds
        let firstPassMBps = Double(data.count) / firstPassSeconds / 1e6
        let elapsed = monotonicSeconds() - start
        let megabytesPerSecond = Double(bytes) / elapsed / 1e6
        if json {
            Console.print(Console.json([
                "file_bytes": data.count, "passes": passes, "tokens": tokens, "seconds": elapsed,
                "MB_per_s": megabytesPerSecond, "tokens_per_s": Double(tokens) / elapsed,
                "tokenizer_load_s": loadSeconds, "first_pass_MB_per_s": firstPassMBps,
            ] as [String: Any]))
        } else {
            Console.print(String(format: "encoded %d bytes × %d passes: %.2f MB/s, %.0f tokens/s; first (cold-cache) pass %.2f MB/s; tokenizer load %.3f s",
                                 data.count, passes, megabytesPerSecond, Double(tokens) / elapsed, firstPassMBps, loadSeconds))
        }
    }
}
