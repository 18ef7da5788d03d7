import ArgumentParser
import Foundation

/// `--model PATH`, shared by every command that loads a model. Defaults to the embedded
/// default model fetched by scripts/setup.sh.
struct ModelOption: ParsableArguments {
    static let defaultRelativePath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(name: .long, help: "A .gguf file or a Hugging Face model directory (default: \(ModelOption.defaultRelativePath)).")
    var model: String?

    /// The model path: the option, else the default model under the working directory, else
    /// next to the executable's checkout (.build/<config>/tessera → ../../models).
    var resolved: String {
        if let model { return model }
        let local = ModelOption.defaultRelativePath
        if FileManager.default.fileExists(atPath: local) { return local }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let checkout = executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let beside = checkout.appendingPathComponent(local).path
        return FileManager.default.fileExists(atPath: beside) ? beside : local
    }
}
