// Makes every launch path (plain, mpirun, scripts) end up on fast OpenBLAS kernels without the
// user knowing about OPENBLAS_CORETYPE: if the loaded kernels are slower than the CPU allows,
// the process re-executes itself once, before MPI starts, with the better core type set.
// `TESSERA_BLAS_CORETYPE=<name>` forces a core type; `TESSERA_BLAS_CORETYPE=keep` keeps
// whatever OpenBLAS loaded (including a user's own OPENBLAS_CORETYPE).
// Executables call it first thing in main; it is the one place outside an executable that
// replaces the process image, because every executable of the package needs the same kernels.
import Foundation

/// Start-up switch to the fastest OpenBLAS kernels this CPU supports.
public enum BLASLauncher {
    public static let guardVariable = "TESSERA_BLAS_RELAUNCHED"
    public static let overrideVariable = "TESSERA_BLAS_CORETYPE"

    /// What happened at start, for `tessera info` and the logs.
    nonisolated(unsafe) public private(set) static var note = ""

    /// Re-executes the current process with a better OPENBLAS_CORETYPE when that helps.
    /// Returns normally when no switch is needed or the exec is impossible.
    public static func ensureFastKernels() {
        let environment = ProcessInfo.processInfo.environment
        let loaded = BLAS.coreName
        if environment[guardVariable] != nil {
            note = "OpenBLAS core \(loaded) (selected by tessera at launch; was \(environment[guardVariable] ?? "?"))"
            return
        }
        let override = environment[overrideVariable]
        if override?.lowercased() == "keep" {
            note = "OpenBLAS core \(loaded) (kept: \(overrideVariable)=keep)"
            return
        }
        let target: String
        if let override, !override.isEmpty {
            guard override.lowercased() != loaded.lowercased() else {
                note = "OpenBLAS core \(loaded) (\(overrideVariable))"
                return
            }
            target = override
        } else {
            let selection = BLASCoreSelection(loaded: loaded, cpuFlags: BLASCoreSelection.cpuFlags())
            guard selection.shouldSwitch, let preferred = selection.preferred else {
                note = "OpenBLAS core \(loaded)"
                return
            }
            target = preferred
        }
        setenv("OPENBLAS_CORETYPE", target, 1)
        setenv(guardVariable, loaded, 1)
        let arguments = CommandLine.arguments
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        execv("/proc/self/exe", &cArguments)
        // exec failed (no /proc): go on with the loaded kernels.
        note = "OpenBLAS core \(loaded) (re-exec for \(target) failed: errno \(errno))"
    }
}
