import ArgumentParser
import Kernels

extension ComputePrecision: ExpressibleByArgument {}

/// `--compute fp32|bf16`: the frozen linears' matrix products (bf16 only on CPUs with
/// AVX512-BF16, and only when asked for).
struct ComputeOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Frozen linears' products: fp32 (OpenBLAS sgemm, default) or bf16 (weights and activations rounded to bf16, fp32 sums; needs AVX512-BF16).",
        valueName: "fp32|bf16"))
    var compute: ComputePrecision = .fp32

    func validate() throws {
        if compute == .bf16 && !LinearCompute.bf16Available {
            throw ValidationError("--compute bf16 needs a CPU with AVX512-BF16 (and the AVX-512 kernels: TESSERA_KERNELS not set to avx2 or scalar); use --compute fp32")
        }
    }

    /// Sets the process-wide precision.
    func apply() { LinearCompute.precision = compute }
}
