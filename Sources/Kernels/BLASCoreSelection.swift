// Choosing OpenBLAS kernels for this CPU. Debian's OpenBLAS 0.3.21 does not recognise recent
// AVX-512 CPUs (for example AMD Zen 4) and falls back to older kernels, 3–5× slower for sgemm.
// OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so the launcher (the executable, before
// MPI starts) compares the loaded kernels with what the CPU supports and re-executes itself
// once with the better core type. This file holds the decision; the executable does the exec.
import Foundation

/// What the CPU can run and which OpenBLAS kernel family fits it best.
public struct BLASCoreSelection: Sendable, Equatable {
    /// The kernel family that the library loaded.
    public let loaded: String
    /// The fastest family this CPU supports, or nil when it is unknown.
    public let preferred: String?

    /// Kernel families in increasing order of speed for sgemm on x86-64.
    static let tiers: [[String]] = [
        ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
         "opteron", "barcelona", "bobcat", "bulldozer", "piledriver", "steamroller", "excavator", "generic"],
        ["sandybridge"],
        ["haswell", "zen"],
        ["skylakex", "cooperlake", "sapphirerapids"],
    ]

    /// Builds the decision from the loaded kernels and the CPU feature flags (as in /proc/cpuinfo).
    public init(loaded: String, cpuFlags: Set<String>) {
        self.loaded = loaded
        preferred = Self.preferredCoreType(cpuFlags: cpuFlags)
    }

    /// The fastest kernel family the flags allow. Cooperlake adds bf16 kernels to SkylakeX's.
    public static func preferredCoreType(cpuFlags: Set<String>) -> String? {
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) {
            return cpuFlags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if cpuFlags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// True when re-loading OpenBLAS with `preferred` kernels would be faster than `loaded`.
    /// A loaded family this table does not know (a newer OpenBLAS naming a newer CPU) is kept:
    /// the library recognised the CPU, and a known older name is no upgrade.
    public var shouldSwitch: Bool {
        guard let preferred, let want = Self.tier(of: preferred) else { return false }
        guard let have = Self.tier(of: loaded) else { return false }
        return have < want
    }

    static func tier(of name: String) -> Int? {
        tiers.firstIndex { $0.contains(name.lowercased()) }
    }

    /// The CPU's model name (Linux /proc/cpuinfo "model name"; "unknown" elsewhere), so that
    /// every benchmark record says what it ran on.
    public static func cpuModelName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return "unknown"
    }

    /// The CPU feature flags of this machine (Linux /proc/cpuinfo; empty elsewhere).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
