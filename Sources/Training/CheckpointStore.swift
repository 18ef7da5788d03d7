// The checkpoints of one run (OUT/checkpoints) and how a new one is published without ever
// exposing a half-written directory: every rank writes its files into a staging directory
// `.step-NNNNNN.partial`, then one rank fsyncs them, writes the manifest (checksums of all the
// files), fsyncs it, and renames the staging directory to `step-NNNNNN`. A crash at any point
// leaves either the old set of checkpoints or the new one; `latest` only sees directories with a
// manifest, and a stale staging directory is removed before it is reused. Old checkpoints beyond
// `keep_last` are removed only after the new one is in place.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The C fsync (the store's own `fsync(path:)` shadows the name inside the type).
private func syncFile(_ fd: Int32) -> Int32 { fsync(fd) }

/// The checkpoint directory of a run.
public struct CheckpointStore: Sendable {
    /// OUT/checkpoints.
    public let root: URL

    public init(outputDirectory: URL) {
        root = outputDirectory.appendingPathComponent("checkpoints")
    }

    /// Finished checkpoints (with a manifest), oldest first.
    public func completed() -> [(step: Int, directory: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            let directory = root.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(Checkpoint.manifestName).path) else { return nil }
            return (step, directory)
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest finished checkpoint, verified; nil when there is none.
    public func latest() throws(CheckpointError) -> Checkpoint? {
        guard let last = completed().last else { return nil }
        return try Checkpoint(directory: last.directory)
    }

    /// What `--resume` continues from: the newest published checkpoint that verifies against its
    /// manifest (every file's size and SHA-256), and the newer ones that did not, newest first,
    /// with the reason. A published `step-NNNNNN` without a manifest counts as damaged (publishing
    /// renames a complete directory, so only outside damage removes it).
    public struct ResumePoint: Sendable {
        public let checkpoint: Checkpoint?
        public let rejected: [(directory: URL, error: CheckpointError)]

        /// One line naming the damaged checkpoints and what resume does instead; nil when none was.
        public var fallbackNote: String? {
            guard let newest = rejected.first else { return nil }
            let names = rejected.map(\.directory.lastPathComponent).joined(separator: ", ")
            let verb = rejected.count == 1 ? "does" : "do"
            guard let checkpoint else {
                return "no checkpoint verifies: \(names) \(verb) not (\(newest.error))"
            }
            return "\(names) \(verb) not verify (\(newest.error)); resuming from \(checkpoint.directory.lastPathComponent), the newest checkpoint that does"
        }
    }

    /// The newest checkpoint that verifies, and the newer damaged ones (see `ResumePoint`).
    public func newestVerified() -> ResumePoint {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let published = names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            return (step, root.appendingPathComponent(name))
        }.sorted { $0.0 > $1.0 }
        var rejected: [(directory: URL, error: CheckpointError)] = []
        for (_, directory) in published {
            do { return ResumePoint(checkpoint: try Checkpoint(directory: directory), rejected: rejected) } catch {
                rejected.append((directory, error))
            }
        }
        return ResumePoint(checkpoint: nil, rejected: rejected)
    }

    /// Where the files of step `step` are written before publishing.
    public func staging(step: Int) -> URL {
        root.appendingPathComponent("." + Checkpoint.directoryName(step: step) + ".partial")
    }

    /// Creates an empty staging directory for `step` (removing a stale one from a crashed save).
    public func beginStaging(step: Int) throws(CheckpointError) -> URL {
        let directory = staging(step: step)
        do {
            if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(directory.path, "cannot create the checkpoint staging directory: \(error.localizedDescription)")
        }
        return directory
    }

    /// Checksums and publishes the staging directory of `step`, then keeps the newest `keepLast`
    /// checkpoints. Returns the published directory.
    @discardableResult
    public func commit(step: Int, keepLast: Int) throws(CheckpointError) -> URL {
        let staging = staging(step: step)
        var files: [String: ManifestEntry] = [:]
        for relative in try Self.files(under: staging) where relative != Checkpoint.manifestName {
            let path = staging.appendingPathComponent(relative).path
            try Self.fsync(path: path)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            do { files[relative] = ManifestEntry(sha256: try SHA256.hex(ofFile: path), bytes: size) } catch {
                throw .io(path, "cannot checksum: \(error)")
            }
        }
        let manifest = CheckpointManifest(step: step, files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(manifest) } catch { throw .io(staging.path, "cannot encode the manifest: \(error)") }
        try Self.writeDurably(data, to: staging.appendingPathComponent(Checkpoint.manifestName))
        try Self.fsync(path: staging.appendingPathComponent(Checkpoint.adapterDirectoryName).path, optional: true)
        try Self.fsync(path: staging.path)

        let final = root.appendingPathComponent(Checkpoint.directoryName(step: step))
        // A checkpoint of the same step from an earlier attempt is replaced only once the new one
        // is complete: move it aside, move the new one in, then delete the old.
        let aside = root.appendingPathComponent(".\(Checkpoint.directoryName(step: step)).replaced-\(getpid())")
        let hadOld = FileManager.default.fileExists(atPath: final.path)
        if hadOld, rename(final.path, aside.path) != 0 { throw .io(final.path, "cannot move the old checkpoint aside: \(Self.errnoText())") }
        guard rename(staging.path, final.path) == 0 else {
            let detail = Self.errnoText()
            if hadOld { _ = rename(aside.path, final.path) }
            throw .io(final.path, "cannot publish the checkpoint: \(detail)")
        }
        try Self.fsync(path: root.path)
        if hadOld { try? FileManager.default.removeItem(at: aside) }
        prune(keepLast: keepLast, keeping: step)
        return final
    }

    /// Removes the oldest finished checkpoints until `keepLast` remain (never `keeping`).
    public func prune(keepLast: Int, keeping: Int) {
        var all = completed()
        while all.count > max(keepLast, 1), let oldest = all.first, oldest.step != keeping {
            try? FileManager.default.removeItem(at: oldest.directory)
            all.removeFirst()
        }
    }

    /// Removes every checkpoint (a new run replacing an old one with --overwrite).
    public func removeAll() throws(CheckpointError) {
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        do { try FileManager.default.removeItem(at: root) } catch {
            throw .io(root.path, "cannot remove the old checkpoints: \(error.localizedDescription)")
        }
    }

    /// Writes `data` to `url` and fsyncs it (inside a staging directory, so no rename needed).
    public static func writeDurably(_ data: Data, to url: URL) throws(CheckpointError) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(url.path, "cannot create: \(errnoText())") }
        defer { close(fd) }
        var failure: String?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard var pointer = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let written = write(fd, pointer, left)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errnoText()
                    return
                }
                pointer += written
                left -= written
            }
        }
        if let failure { throw .io(url.path, "write failed: \(failure)") }
        guard syncFile(fd) == 0 else { throw .io(url.path, "fsync failed: \(errnoText())") }
    }

    /// Relative paths of the regular files under `directory`, sorted.
    static func files(under directory: URL) throws(CheckpointError) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory.path) else {
            throw .io(directory.path, "cannot list the staging directory")
        }
        var result: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent(relative).path, isDirectory: &isDirectory),
               !isDirectory.boolValue {
                result.append(relative)
            }
        }
        return result.sorted()
    }

    /// fsync of a file or directory (directories make renames and new entries durable).
    static func fsync(path: String, optional: Bool = false) throws(CheckpointError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if optional { return }
            throw .io(path, "cannot open for fsync: \(errnoText())")
        }
        defer { close(fd) }
        guard syncFile(fd) == 0 else { throw .io(path, "fsync failed: \(errnoText())") }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
