// YAML in and out for `tessera train --config FILE.yaml`: Yams turns the text into the Codable
// TrainConfig (whose decoder checks unknown keys and types), and the resolved config of a run
// is written back as OUT/config.yaml. Only the executable knows about YAML.

import Foundation
import Training
import Yams

enum TrainConfigFile {
    /// Reads a training config; an empty file gives the defaults.
    static func load(_ path: String) throws -> TrainConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TrainConfigError.unreadable(file: path, detail: "cannot read the config file: \(error.localizedDescription)")
        }
        if text.allSatisfy({ $0.isWhitespace }) { return TrainConfig() }
        do {
            return try YAMLDecoder().decode(TrainConfig.self, from: text)
        } catch let error as TrainConfigError {
            throw TrainConfigError.unreadable(file: path, detail: error.description)
        } catch let DecodingError.dataCorrupted(context) where context.underlyingError is TrainConfigError {
            // Yams wraps errors thrown while decoding; the config's own message is the useful one.
            throw TrainConfigError.unreadable(file: path, detail: String(describing: context.underlyingError.map { "\($0)" } ?? ""))
        } catch let DecodingError.dataCorrupted(context) where context.underlyingError is YamlError {
            throw TrainConfigError.unreadable(file: path, detail: "not valid YAML: \(oneLine(context.underlyingError.map { "\($0)" } ?? ""))")
        } catch let error as YamlError {
            throw TrainConfigError.unreadable(file: path, detail: "not valid YAML: \(oneLine("\(error)"))")
        } catch {
            throw TrainConfigError.unreadable(file: path, detail: oneLine("\(error)"))
        }
    }

    /// Yams' messages quote the source line with a caret under it; errors are one line.
    private static func oneLine(_ text: String) -> String {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.allSatisfy { $0 == "^" } }.joined(separator: "; ")
    }

    /// The YAML text of `config`.
    static func text(_ config: TrainConfig) throws -> String {
        "# Resolved settings of this run (config file + flags); tessera train --config accepts it.\n"
            + (try YAMLEncoder().encode(config))
    }

    /// Writes `config` to `url` atomically.
    static func write(_ config: TrainConfig, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(try text(config).utf8).write(to: url, options: .atomic)
    }
}
