import ArgumentParser
import LlamaModel
import ModelIO

extension ActivationCheckpointing: ExpressibleByArgument {}

/// `--activation-checkpointing full|selective|none` and its short form
/// `--no-activation-checkpointing`, shared by `train`, `bench train` and `plan`.
struct CheckpointingOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "What the backward recomputes: full (each layer from its input; least memory), selective (norms, SwiGLU and q_proj; the other GEMM outputs kept), none (nothing; most memory).",
        valueName: "full|selective|none"))
    var activationCheckpointing: ActivationCheckpointing?

    @Flag(name: .long, help: "Same as --activation-checkpointing none.")
    var noActivationCheckpointing = false

    func validate() throws {
        if noActivationCheckpointing, let mode = activationCheckpointing, mode != .none {
            throw ValidationError("--no-activation-checkpointing contradicts --activation-checkpointing \(mode.rawValue)")
        }
    }

    /// The mode the flags name, nil when neither is given.
    var chosen: ActivationCheckpointing? { noActivationCheckpointing ? ActivationCheckpointing.none : activationCheckpointing }
}
