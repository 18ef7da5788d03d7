import ArgumentParser
import Foundation
import LlamaModel
import ModelIO
import LoRA

/// `tessera export`: writes a loaded model in another format (a Hugging Face directory), or,
/// with --adapter, a LoRA adapter as PEFT, llama.cpp GGUF or mlx-lm files.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model as a Hugging Face directory, or a LoRA adapter (--adapter) as PEFT, GGUF or MLX.",
        discussion: """
            Without --adapter: --format hf writes a directory that loads with transformers' \
            AutoModelForCausalLM / AutoTokenizer and with tessera --model DIR. Quantized GGUF weights \
            are dequantized; --dtype f32 keeps exactly the values tessera computes with.

            With --adapter DIR (a PEFT adapter, checked against --model): --format peft re-saves it \
            as a clean PEFT directory; gguf writes one file for llama.cpp's --lora (q/k factors \
            permuted to llama.cpp's RoPE row order); mlx writes adapters.safetensors and \
            adapter_config.json for mlx-lm's --adapter-path. For a merged model use tessera merge.
            """)

    /// Output formats: `hf` for a model, `peft`, `gguf` and `mlx` for an adapter.
    enum Format: String, CaseIterable {
        case hf, peft, gguf, mlx

        var isAdapterFormat: Bool { self != .hf }

        static func parse(_ argument: String) throws -> Format {
            guard let format = Format(rawValue: argument) else {
                throw ValidationError("unsupported export format '\(argument)': use hf (a model), or peft, gguf or mlx (with --adapter)")
            }
            return format
        }
    }

    @OptionGroup var modelOption: ModelOption
    @Option(help: "A PEFT LoRA adapter directory to export instead of the model.") var adapter: String?
    @Option(help: "Output format: hf (model); peft, gguf or mlx (adapter).", transform: Format.parse) var format: Format?
    @Option(help: "Where to write: a directory (hf, peft, mlx) or a .gguf file (gguf).") var out: String
    @Option(help: "Weight type of model.safetensors (hf): f32, f16 or bf16.") var dtype: HFExportDType = .f32
    @Flag(help: "Write into a non-empty directory, replacing the exported files.") var overwrite = false

    func validate() throws {
        if adapter == nil, let format, format.isAdapterFormat {
            throw ValidationError("--format \(format.rawValue) exports an adapter: pass --adapter DIR (for a merged model use tessera merge)")
        }
        if adapter != nil, format == nil || format == .hf {
            throw ValidationError("--adapter needs --format peft, gguf or mlx (for a merged model use tessera merge)")
        }
    }

    func run() throws {
        let path = try ModelPath(modelOption.resolved)
        let model = try path.load(maxPositions: 1)
        if let adapter {
            try exportAdapter(URL(fileURLWithPath: adapter), model: model.config, modelPath: path.path)
            return
        }
        let tokenizer = try path.tokenizerDefinition()
        let files = try exportHuggingFace(model: model, tokenizer: tokenizer, to: out, dtype: dtype, overwrite: overwrite,
                                          tokenizerFiles: path.ownTokenizerFiles())
        Console.print("exported \(path.path) as a Hugging Face directory (\(dtype.torchName)) to \(out)")
        Console.print(Self.fileTable(files.map { ($0.path, $0.bytes) }))
    }

    /// Loads the PEFT adapter (validated against the model) and writes it as `format`.
    private func exportAdapter(_ directory: URL, model: LlamaConfig, modelPath: String) throws {
        let lora = try LoRAAdapter.load(from: directory, model: model)
        let outURL = URL(fileURLWithPath: out)
        let written: [String]
        if format != .gguf { try Self.checkDirectory(out, overwrite: overwrite) }
        switch format ?? .peft {
        case .peft:
            try lora.save(to: outURL)
            written = [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName].map { outURL.appendingPathComponent($0).path }
        case .gguf:
            if FileManager.default.fileExists(atPath: out), !overwrite {
                throw ValidationError("\(out) exists; pass --overwrite to replace it")
            }
            try lora.saveGGUF(to: out, model: model, name: directory.lastPathComponent)
            written = [out]
        case .mlx:
            try lora.saveMLX(to: outURL, model: model)
            written = [LoRAAdapter.mlxConfigFileName, LoRAAdapter.mlxWeightsFileName].map { outURL.appendingPathComponent($0).path }
        case .hf:
            throw ValidationError("--adapter needs --format peft, gguf or mlx")
        }
        Console.print("exported adapter \(directory.path) (r=\(lora.rank), \(lora.targets.count) modules, checked against \(modelPath)) as \((format ?? .peft).rawValue) to \(out)")
        Console.print(Self.fileTable(written.map { ($0, Self.fileSize($0)) }))
    }

    /// Refuses a non-empty output directory unless `overwrite`, as the hf export does.
    static func checkDirectory(_ path: String, overwrite: Bool) throws {
        guard !overwrite, let contents = try? FileManager.default.contentsOfDirectory(atPath: path), !contents.isEmpty else { return }
        throw ValidationError("\(path) is not empty (\(contents.count) entries); pass --overwrite to replace the exported files")
    }

    /// A two-column table of file names and sizes.
    static func fileTable(_ files: [(path: String, bytes: Int)]) -> String {
        Console.table(header: ["file", "size"], rows: files.map { [($0.path as NSString).lastPathComponent, size($0.bytes)] })
    }

    /// Size of the file at `path` (0 when it cannot be read).
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
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
