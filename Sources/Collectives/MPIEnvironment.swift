// MPI start-up and shut-down. Works both under `mpirun` and as a singleton process (a plain
// `tessera` call without a launcher, where OpenMPI makes a world of one).
import CMPI

/// The thread support level MPI granted.
public enum ThreadLevel: Int32, Sendable, Comparable, CustomStringConvertible {
    case single = 0, funneled, serialized, multiple

    init(mpi value: Int32) {
        switch Int(value) {
        case Int(MPI_THREAD_SINGLE): self = .single
        case Int(MPI_THREAD_FUNNELED): self = .funneled
        case Int(MPI_THREAD_SERIALIZED): self = .serialized
        default: self = .multiple
        }
    }

    var mpi: Int32 {
        switch self {
        case .single: return Int32(MPI_THREAD_SINGLE)
        case .funneled: return Int32(MPI_THREAD_FUNNELED)
        case .serialized: return Int32(MPI_THREAD_SERIALIZED)
        case .multiple: return Int32(MPI_THREAD_MULTIPLE)
        }
    }

    public static func < (lhs: ThreadLevel, rhs: ThreadLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .single: return "MPI_THREAD_SINGLE"
        case .funneled: return "MPI_THREAD_FUNNELED"
        case .serialized: return "MPI_THREAD_SERIALIZED"
        case .multiple: return "MPI_THREAD_MULTIPLE"
        }
    }
}

/// An initialised MPI library. Create one per process, keep it for the process's life, and
/// call `finalize()` before exiting (or `Communicator.abort` on a fatal error).
public final class MPIEnvironment: @unchecked Sendable {
    /// The thread level MPI granted (may be below the one requested).
    public let threadLevel: ThreadLevel
    /// All processes of the job.
    public let world: Communicator

    /// Initialises MPI, asking for `requested` thread support, and makes MPI errors return
    /// codes (turned into Swift errors) instead of aborting the job.
    public init(requested: ThreadLevel = .funneled) throws(CollectivesError) {
        var already: Int32 = 0
        try mpiCheck("MPI_Initialized") { MPI_Initialized(&already) }
        var provided: Int32 = 0
        if already == 0 {
            try mpiCheck("MPI_Init_thread") { MPI_Init_thread(nil, nil, requested.mpi, &provided) }
        } else {
            try mpiCheck("MPI_Query_thread") { MPI_Query_thread(&provided) }
        }
        threadLevel = ThreadLevel(mpi: provided)
        guard let worldHandle = tessera_mpi_comm_world() else {
            throw CollectivesError.invalidArgument("MPI_COMM_WORLD is null after MPI_Init")
        }
        try mpiCheck("MPI_Comm_set_errhandler") { MPI_Comm_set_errhandler(worldHandle, tessera_mpi_errors_return()) }
        world = try Communicator(borrowing: worldHandle)
    }

    /// Shuts MPI down. Every rank must call it, after its last collective.
    public func finalize() throws(CollectivesError) {
        var finalized: Int32 = 0
        try mpiCheck("MPI_Finalized") { MPI_Finalized(&finalized) }
        if finalized == 0 {
            try mpiCheck("MPI_Finalize") { MPI_Finalize() }
        }
    }

    /// The MPI library's version string (for example "Open MPI v4.1.4, ...").
    public static var libraryVersion: String {
        var length: Int32 = 0
        var text = [CChar](repeating: 0, count: Int(tessera_mpi_max_library_version_string()) + 1)
        guard MPI_Get_library_version(&text, &length) == tessera_mpi_success() else { return "unknown" }
        let bytes = text.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace()
    }

    /// The MPI standard version this library implements, as "major.minor".
    public static var standardVersion: String {
        var major: Int32 = 0, minor: Int32 = 0
        guard MPI_Get_version(&major, &minor) == tessera_mpi_success() else { return "unknown" }
        return "\(major).\(minor)"
    }

    /// This process's host name as MPI reports it.
    public static var processorName: String {
        var length: Int32 = 0
        var text = [CChar](repeating: 0, count: Int(tessera_mpi_max_processor_name()) + 1)
        guard MPI_Get_processor_name(&text, &length) == tessera_mpi_success() else { return "unknown" }
        return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var result = Substring(self)
        while let last = result.last, last.isWhitespace || last == "\0" { result = result.dropLast() }
        return String(result)
    }
}
