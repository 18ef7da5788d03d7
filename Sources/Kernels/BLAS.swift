// Runtime facts and controls of the BLAS library: which kernels it picked, how many threads.
import CBLAS

/// The linked OpenBLAS library.
public enum BLAS {
    /// The kernel family OpenBLAS chose at load time (for example `SkylakeX`, `Haswell`, `Prescott`).
    public static var coreName: String {
        guard let name = tessera_blas_core_name() else { return "unknown" }
        return String(cString: name)
    }

    /// The library's build configuration string.
    public static var configuration: String {
        guard let config = tessera_blas_config() else { return "unknown" }
        return String(cString: config)
    }

    /// Threads OpenBLAS uses for one call.
    public static var threadCount: Int { Int(tessera_blas_num_threads()) }

    /// Sets the threads OpenBLAS uses for one call (one per rank when ranks fill the cores).
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "BLAS thread count must be at least 1")
        tessera_blas_set_num_threads(Int32(count))
    }
}
