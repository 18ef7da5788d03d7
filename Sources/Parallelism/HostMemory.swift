// The memory this host lets a job use: the smaller of the memory cgroup's limit (v2 memory.max,
// v1 memory.limit_in_bytes, on this process's cgroup and its ancestors) and MemAvailable from
// /proc/meminfo. A container's limit is invisible in /proc/meminfo, which shows the whole host,
// so both are read. The files come through a reader closure so tests can fake any host.
import Foundation

/// Bytes of memory available to the processes of a job on this host, and where the figure came from.
public struct HostMemory: Sendable, Equatable, CustomStringConvertible {
    public enum Source: Sendable, Equatable {
        /// A cgroup v2 `memory.max` or v1 `memory.limit_in_bytes` (path of the file).
        case cgroupLimit(String)
        /// `MemAvailable` in /proc/meminfo.
        case memAvailable
        /// `TESSERA_MEMORY_LIMIT_BYTES` (a testing and operations override).
        case environmentOverride
    }

    public let bytes: UInt64
    public let source: Source

    public init(bytes: UInt64, source: Source) {
        self.bytes = bytes
        self.source = source
    }

    /// The name of the override variable: bytes, replacing what the probe would read.
    public static let overrideVariable = "TESSERA_MEMORY_LIMIT_BYTES"

    /// A v1 cgroup without a limit reports a page-rounded Int64.max; anything this large is none.
    static let unlimitedThreshold: UInt64 = 1 << 60

    public var description: String {
        switch source {
        case .cgroupLimit: return "cgroup limit"
        case .memAvailable: return "MemAvailable"
        case .environmentOverride: return Self.overrideVariable
        }
    }

    /// What this host allows: `TESSERA_MEMORY_LIMIT_BYTES` when set, else the smaller of the
    /// cgroup limit and MemAvailable; nil when nothing can be read (not Linux, /proc hidden).
    /// `readFile` returns a file's text or nil; the default reads the real file system.
    public static func probe(environment: [String: String] = ProcessInfo.processInfo.environment,
                             readFile: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) })
        throws(MemoryGuardError) -> HostMemory? {
        if let text = environment[overrideVariable] {
            guard let bytes = UInt64(text.trimmingCharacters(in: .whitespaces)), bytes > 0 else {
                throw .invalidOverride(variable: overrideVariable, value: text)
            }
            return HostMemory(bytes: bytes, source: .environmentOverride)
        }
        let candidates = [cgroupLimit(readFile: readFile), memAvailable(readFile: readFile)].compactMap { $0 }
        return candidates.min { $0.bytes < $1.bytes }
    }

    /// The smallest memory limit on this process's cgroup path (v2 first, then v1), nil if none.
    static func cgroupLimit(readFile: (String) -> String?) -> HostMemory? {
        guard let table = readFile("/proc/self/cgroup") else { return nil }
        var limits: [HostMemory] = []
        for line in table.split(separator: "\n") {
            // "hierarchy-id:controllers:path"; v2 is "0::path", v1's memory line names "memory".
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                limits += limitsAlong(fields[2], mount: "/sys/fs/cgroup", file: "memory.max", readFile: readFile)
            } else if fields[1].split(separator: ",").contains("memory") {
                limits += limitsAlong(fields[2], mount: "/sys/fs/cgroup/memory", file: "memory.limit_in_bytes",
                                      readFile: readFile)
            }
        }
        return limits.min { $0.bytes < $1.bytes }
    }

    /// Limits of `path` and each ancestor under `mount` (a limit anywhere above binds too). In a
    /// container the cgroup path is often not visible under the mount; its root then is the
    /// container's own cgroup, so the walk ends at the mount's file.
    static func limitsAlong(_ path: String, mount: String, file: String, readFile: (String) -> String?) -> [HostMemory] {
        var components = path.split(separator: "/").map(String.init)
        var found: [HostMemory] = []
        while true {
            let directory = ([mount] + components).joined(separator: "/")
            let filePath = directory + "/" + file
            if let text = readFile(filePath)?.trimmingCharacters(in: .whitespacesAndNewlines),
               text != "max", let bytes = UInt64(text), bytes < unlimitedThreshold {
                found.append(HostMemory(bytes: bytes, source: .cgroupLimit(filePath)))
            }
            if components.isEmpty { break }
            components.removeLast()
        }
        return found
    }

    /// `MemAvailable` of /proc/meminfo (kB there), nil if absent.
    static func memAvailable(readFile: (String) -> String?) -> HostMemory? {
        guard let text = readFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kilobytes = UInt64(parts[1]) else { return nil }
            return HostMemory(bytes: kilobytes * 1024, source: .memAvailable)
        }
        return nil
    }
}
