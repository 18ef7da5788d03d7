import ArgumentParser
import Foundation
import LlamaModel

/// `tessera export`: writes a loaded model in another format (a Hugging Face directory for now).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model as a Hugging Face directory (config.json, model.safetensors, tokenizer).",
        discussion: """
            The directory loads with transformers' AutoModelForCausalLM / AutoTokenizer and with \
            tessera --model DIR. Quantized GGUF weights are dequantized; --dtype f32 keeps exactly the \
            values tessera computes with.
            """)

    /// Output formats. Only `hf` exists so far; the parser names it when given anything else.
    enum Format: String, CaseIterable {
        case hf

        static func parse(_ argument: String) throws -> Format {
            guard let format = Format(rawValue: argument) else {
                throw ValidationError("unsupported export format '\(argument)': only 'hf' (a Hugging Face directory) is supported for now")
            }
            return format
        }
    }

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Output format (only 'hf' for now).", transform: Format.parse) var format: Format = .hf
    @Option(help: "Directory to write (created when missing).") var out: String
    @Option(help: "Weight type of model.safetensors: f32, f16 or bf16.") var dtype: HFExportDType = .f32
    @Flag(help: "Write into a non-empty directory, replacing the exported files.") var overwrite = false

    func run() throws {
        let path = try ModelPath(modelOption.resolved)
        let tokenizer = try path.tokenizerDefinition()
        let model = try path.load(maxPositions: 1)
        switch format {
        case .hf:
            let files = try exportHuggingFace(model: model, tokenizer: tokenizer, to: out, dtype: dtype, overwrite: overwrite)
            Console.print("exported \(path.path) as a Hugging Face directory (\(dtype.torchName)) to \(out)")
            Console.print(Console.table(
                header: ["file", "size"],
                rows: files.map { [($0.path as NSString).lastPathComponent, Self.size($0.bytes)] }))
        }
    }

    /// Bytes as a short human-readable size.
    static func size(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}

extension HFExportDType: ExpressibleByArgument {}
