// Runs a command body inside MPI and turns its outcome into one printed error and one exit code
// on every rank. Errors that all ranks agreed on (`AgreedFailure`, ProcessGroup+Agreement) are printed by
// rank 0 only and every rank exits 1 after MPI_Finalize. An error only this rank knows about
// cannot be agreed without risking a hang, so it is printed with the rank and the job is
// aborted (mpirun then ends every rank with a non-zero code).
import Collectives
import Foundation
import ProcessGroups
import Kernels
import Training

enum MPISession {
    /// Runs `body` on this rank with `context` bound (the frozen linears' precision of commands
    /// that run the model outside a trainer).
    static func run(context: ComputeContext = ComputeContext(), _ body: (MPIEnvironment) throws -> Void) -> Never {
        let environment: MPIEnvironment
        do {
            environment = try MPIEnvironment(requested: .funneled)
        } catch {
            Console.error("error: cannot start MPI: \(error)")
            exit(1)
        }
        let world = environment.world
        configureBLASThreads()
        do {
            try context.bind { try body(environment) }
            try environment.finalize()
            exit(0)
        } catch let requested as SessionExit {
            // Every rank throws it together (an agreed decision such as a graceful stop).
            try? environment.finalize()
            exit(requested.code)
        } catch let agreed as AgreedFailure {
            if world.isRoot { Console.error("error: \(agreed.message)") }
            try? environment.finalize()
            exit(1)
        } catch let failure as SaveFailure {
            if world.isRoot { Console.error("error: \(failure.message)") }
            try? environment.finalize()
            exit(1)
        } catch {
            if world.size == 1 {
                Console.error("error: \(error)")
                try? environment.finalize()
                exit(1)
            }
            Console.error("error: rank \(world.rank): \(error)")
            world.abort("\(error)")
        }
    }

    /// One OpenBLAS thread per rank when the ranks on this host fill its cores (oversubscribed
    /// BLAS threads fight over cores); otherwise the cores are shared out evenly. An explicit
    /// OPENBLAS_NUM_THREADS or TESSERA_BLAS_THREADS wins.
    static func configureBLASThreads() {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["TESSERA_BLAS_THREADS"].flatMap(Int.init), explicit >= 1 {
            BLAS.setThreadCount(explicit)
            return
        }
        if environment["OPENBLAS_NUM_THREADS"] != nil { return }
        let localRanks = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        let cores = ProcessInfo.processInfo.activeProcessorCount
        BLAS.setThreadCount(max(1, cores / max(localRanks, 1)))
    }
}
