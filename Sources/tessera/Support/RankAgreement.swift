// Before any work, the ranks of a job compare what they are about to run: the model file, the
// data files and a hash of the resolved settings. Under mpirun every rank reads its own copy of
// the files (on another host, another disk), so a stale model or a different data file on one
// host would otherwise train silently on mixed inputs. A mismatch is an agreed failure naming
// the first differing rank and what differs; every rank computes the same verdict from the same
// gathered strings, so no extra agreement round is needed.
//
// Identities: a model file is its size plus SHA-256 of its first MiB (header, metadata, tensor
// table) and last 64 KiB (tail of the tensor data); a directory (Hugging Face model, adapter)
// is that of each regular file in it; a data file is its size plus SHA-256 of all of it. A file
// a rank cannot read gets an "unreadable" identity, so the readers later report the real error
// when every rank fails alike.
import Collectives
import Foundation
import ProcessGroups
import Training

enum RankAgreement {
    /// One compared input: what it is ("model", "data file"), its path and a cheap `identity`.
    struct Input {
        let kind: String
        let path: String
        let wholeFile: Bool
    }

    static func model(_ path: String) -> Input { Input(kind: "model", path: path, wholeFile: false) }
    static func data(_ path: String) -> Input { Input(kind: "data file", path: path, wholeFile: true) }
    static func adapter(_ path: String) -> Input { Input(kind: "adapter", path: path, wholeFile: false) }

    /// The command line after the executable: the settings of commands without a config type.
    static var arguments: String { CommandLine.arguments.dropFirst().joined(separator: "\u{1F}") }

    /// Compares `inputs` and `settings` across the ranks of `world` (collective; a no-op on one
    /// rank). Throws `AgreedFailure` on every rank when any rank differs from rank 0.
    static func check(_ world: Communicator, settings: String, inputs: [Input]) throws {
        guard world.size > 1 else { return }
        var entries = inputs.map { input in
            Entry(what: "\(input.kind) \(input.path)", label: "a different \(input.kind)", identity: identity(of: input))
        }
        entries.append(Entry(what: "settings", label: "different settings (command-line flags or config file)",
                             identity: "sha256:\(SHA256.hex(Array(settings.utf8)).prefix(16))"))
        let mine = entries.map { "\($0.what)\t\($0.label)\t\($0.identity)" }.joined(separator: "\n")
        let gathered = try world.allGather(string: mine).map { $0.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) } }
        let reference = gathered[0]
        for rank in 1..<gathered.count {
            for (index, line) in reference.enumerated() {
                let other = index < gathered[rank].count ? gathered[rank][index] : []
                guard other.count == 3, line.count == 3 else { continue }
                if other[2] != line[2] {
                    throw AgreedFailure(message: "rank \(rank) has \(line[1]): \(other[0]) (\(other[2])) vs rank 0's \(line[0]) (\(line[2])); every rank must read the same files and settings")
                }
            }
        }
    }

    private struct Entry {
        let what: String
        let label: String
        let identity: String
    }

    static func identity(of input: Input) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDirectory) else { return "missing" }
        guard isDirectory.boolValue else { return fileIdentity(input.path, whole: input.wholeFile) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: input.path)) ?? []).sorted()
        return names.compactMap { name -> String? in
            let path = (input.path as NSString).appendingPathComponent(name)
            var nested: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &nested), !nested.boolValue else { return nil }
            return "\(name) \(fileIdentity(path, whole: false))"
        }.joined(separator: ", ")
    }

    /// `bytes:N sha256:…` of the whole file, or of its first MiB and last 64 KiB.
    static func fileIdentity(_ path: String, whole: Bool) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "unreadable" }
        defer { try? handle.close() }
        do {
            let size = Int(try handle.seekToEnd())
            var hash = SHA256()
            try handle.seek(toOffset: 0)
            if whole {
                while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(chunk) }
            } else {
                hash.update(try handle.read(upToCount: 1 << 20) ?? Data())
                let tail = max(0, size - (64 << 10))
                try handle.seek(toOffset: UInt64(tail))
                hash.update(try handle.read(upToCount: 64 << 10) ?? Data())
            }
            return "bytes:\(size) sha256:\(hash.finalize().prefix(8).map { String(format: "%02x", $0) }.joined())"
        } catch {
            return "unreadable"
        }
    }
}

extension TrainCommand {
    /// The resolved config (when it resolves; else the arguments, and set-up reports the error),
    /// the model and the data files, compared across ranks; then rank 0, the only writer, checks
    /// the output directory. Runs before set-up, whose process-mesh split is collective: a
    /// failure on one rank there would leave the others waiting in the split.
    func checkRanksAgree(_ world: Communicator) throws {
        let config = try? resolvedConfig()
        try world.agreed {
            if world.isRoot, let config { try OutputDirectory.checkWritable(config.outputDir) }
        }
        guard world.size > 1 else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let settings = config.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? RankAgreement.arguments
        var inputs = [RankAgreement.model(config?.model ?? modelOption.resolved)]
        if let train = config?.data.train { inputs.append(RankAgreement.data(train)) }
        if let valid = config?.data.valid { inputs.append(RankAgreement.data(valid)) }
        try RankAgreement.check(world, settings: settings, inputs: inputs)
    }
}

extension EvalCommand {
    /// The arguments, the model, the data and the adapter, compared across ranks.
    func checkRanksAgree(_ world: Communicator) throws {
        var inputs = [RankAgreement.model(modelOption.resolved), RankAgreement.data(data ?? facts ?? "")]
        if let adapter { inputs.append(RankAgreement.adapter(adapter)) }
        try RankAgreement.check(world, settings: RankAgreement.arguments, inputs: inputs)
    }
}
