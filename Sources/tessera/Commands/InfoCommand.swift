import ArgumentParser
import Collectives
import Foundation
import Kernels

/// `tessera info`: versions, the MPI world, the BLAS kernels, and every rank's host and pid.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show versions, the MPI world, BLAS kernels and per-rank hosts.")

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        MPISession.run { environment in
            let world = environment.world
            let host = ProcessInfo.processInfo.hostName
            let identity = "\(host)\t\(getpid())\t\(BLAS.coreName)\t\(BLAS.threadCount)"
            let ranks = try world.allGather(string: identity).map { $0.split(separator: "\t").map(String.init) }
            guard world.isRoot else { return }
            let rankRows: [[String: Any]] = ranks.enumerated().map { rank, fields in
                ["rank": rank, "host": fields[0], "pid": Int(fields[1]) ?? 0, "blas_core": fields[2],
                 "blas_threads": Int(fields[3]) ?? 0]
            }
            if json {
                Console.print(Console.json([
                    "version": TesseraVersion.string,
                    "mpi_library": MPIEnvironment.libraryVersion,
                    "mpi_standard": MPIEnvironment.standardVersion,
                    "world_size": world.size,
                    "thread_level": environment.threadLevel.description,
                    "blas_core": BLAS.coreName,
                    "blas_threads": BLAS.threadCount,
                    "blas_note": BLASLauncher.note,
                    "ranks": rankRows,
                ] as [String: Any]))
            } else {
                Console.print("tessera \(TesseraVersion.string)")
                Console.print("MPI:          \(MPIEnvironment.libraryVersion) (standard \(MPIEnvironment.standardVersion))")
                Console.print("world size:   \(world.size)")
                Console.print("thread level: \(environment.threadLevel)")
                Console.print("BLAS:         \(BLASLauncher.note), \(BLAS.threadCount) thread(s)")
                Console.print(Console.table(
                    header: ["rank", "host", "pid", "blas core", "threads"],
                    rows: ranks.enumerated().map { [String($0.offset)] + $0.element }))
            }
        }
    }
}
