// Graceful stop of `tessera train` (docs/preemption.md). SIGTERM, SIGINT or SIGUSR1 on any rank
// is recorded by a C handler (CSignals); at every step boundary the ranks take the largest
// recorded signal over the world (one allReduce of one Int32), so all of them stop after the
// same step, save it as a normal checkpoint and exit 0 (or 128 + signal with
// --exit-code-on-signal). A second signal on a rank that is already stopping exits at once with
// 128 + signal; the published checkpoints are untouched (CheckpointStore publishes by rename).
import CSignals
import Collectives
import Foundation
import ProcessGroups

enum GracefulStop {
    /// Installs the handler; from now on the first SIGTERM / SIGINT / SIGUSR1 asks for a stop.
    static func install() throws {
        guard ts_stop_install() == 0 else {
            throw AgreedFailure(message: "cannot install the signal handler: \(String(cString: strerror(errno)))")
        }
    }

    /// The signal every rank agrees to stop on (the largest any rank received), 0 to go on.
    /// Collective: every rank calls it at the same step boundary.
    static func agreedSignal(_ world: Communicator) throws -> Int32 {
        let agreed = try world.allReduce([Int32(ts_stop_signal())], .max)[0]
        // Every rank is stopping now, so a further signal to any of them means "exit at once".
        if agreed != 0 { ts_stop_raise(agreed) }
        return agreed
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(signal)"
        }
    }
}

/// Ends an MPI session with this exit code after MPI_Finalize on every rank (MPISession.run).
struct SessionExit: Error, CustomStringConvertible {
    let code: Int32
    var description: String { "exit \(code)" }
}
