import Kernels

/// Entry point: choose fast BLAS kernels (may re-execute the process), then parse the command.
@main
enum TesseraMain {
    static func main() {
        BLASLauncher.ensureFastKernels()
        Tessera.main()
    }
}
