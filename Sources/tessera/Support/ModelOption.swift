import ArgumentParser
import Foundation

/// `--model PATH`, shared by every command that loads a model. Defaults to the embedded
/// default model fetched by scripts/setup.sh.
struct ModelOption: ParsableArguments {
    static let defaultRelativePath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(name: .long, help: "A .gguf file or a Hugging Face model directory (default: \(ModelOption.defaultRelativePath)).")
    var model: String?

    /// The model path: the option, else the default model under the working directory, else
    /// under the nearest folder above the executable that has it (the checkout the binary was
    /// built in: .build/<triple>/<config>/tessera).
    var resolved: String { Self.resolve(model) }

    /// `model`, or the default model as `resolved` finds it.
    static func resolve(_ model: String?) -> String {
        if let model { return model }
        let local = ModelOption.defaultRelativePath
        if FileManager.default.fileExists(atPath: local) { return local }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent(local).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return local
    }
}
