import ArgumentParser
import LlamaModel
import ModelIO
import Training

/// The choices of `--base-quant` are the config file's `base_quant` values.
extension TrainConfig.BaseQuant: ExpressibleByArgument {}

/// `--base-quant nf4|none|stored` and `--double-quant/--no-double-quant`, shared by every command that
/// loads a model to run it: how the frozen linear weights are held (QLoRA's NF4 by default).
struct BaseQuantOption: ParsableArguments {
    @Option(name: .long, help: "Frozen linear weights: nf4 (bitsandbytes NF4, QLoRA), none (fp32), or stored (as the file holds them: a GGUF's Q4_1/Q4_K blocks, a checkpoint's bf16).")
    var baseQuant: TrainConfig.BaseQuant = .nf4

    @Flag(name: .long, inversion: .prefixedNo, help: "Store NF4 block scales as 8 bits (bnb double quantization).")
    var doubleQuant = true

    /// The library value the options name.
    var resolved: BaseQuantization { baseQuant.quantization(doubleQuantization: doubleQuant) }
}
