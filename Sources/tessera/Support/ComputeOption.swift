import ArgumentParser
import Kernels

extension ComputePrecision: ExpressibleByArgument {}

/// `--compute fp32|bf16`: the frozen linears' matrix products. Unset: bf16 where the CPU has AMX
/// (the products run on its tiles), fp32 elsewhere; bf16 without AMX uses AVX512-BF16 dot
/// products, which are no faster than fp32 (measured in docs/performance.md), so only on request.
struct ComputeOption: ParsableArguments {
    @Option(name: .customLong("compute"), help: ArgumentHelp(
        "Frozen linears' products: fp32 (OpenBLAS sgemm) or bf16 (weights and activations rounded to bf16, fp32 sums: AMX tiles, or AVX512-BF16 without AMX). Default: bf16 where the CPU has AMX, else fp32.",
        valueName: "fp32|bf16"))
    var requested: ComputePrecision?

    /// The precision in use: the one asked for, else the CPU's default.
    var compute: ComputePrecision { requested ?? LinearCompute.defaultPrecision }

    func validate() throws {
        if requested == .bf16 && !LinearCompute.bf16Available {
            throw ValidationError("--compute bf16 needs a CPU with AMX or AVX512-BF16 (and the AVX-512 kernels: TESSERA_KERNELS not set to avx2 or scalar); use --compute fp32")
        }
    }

    /// The context the command's model calls run under (bound by `run`).
    var context: ComputeContext { ComputeContext(precision: compute) }

    /// One line for reports: the precision, its instructions, and whether it was the default.
    var description: String {
        LinearCompute.kernelDescription(compute) + (requested == nil ? " (default on this CPU)" : "")
    }
}
