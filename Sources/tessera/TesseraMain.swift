import ArgumentParser
import Foundation
import Kernels

/// Entry point: choose fast BLAS kernels (may re-execute the process), then parse and run the
/// command. Usage errors (unknown command or flag, bad value) print argument-parser's message
/// and exit 2, the conventional code for command-line misuse.
@main
enum TesseraMain {
    static func main() {
        BLASLauncher.ensureFastKernels()
        do {
            var command = try Tessera.parseAsRoot()
            try command.run()
        } catch {
            let code = Tessera.exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((Tessera.fullMessage(for: error) + "\n").utf8))
                exit(2)
            }
            Tessera.exit(withError: error)
        }
    }
}
