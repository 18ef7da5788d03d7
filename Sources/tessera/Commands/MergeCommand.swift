import ArgumentParser
import Foundation
import LlamaModel
import ModelIO
import LoRA
import ModelFormats

/// `tessera merge`: folds a LoRA adapter into its base (W + scale·B·A) and writes the merged
/// model as a Hugging Face directory or a llama.cpp GGUF file.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge a LoRA adapter into the model and export it (Hugging Face directory or GGUF).",
        discussion: """
            The base is loaded in its stored format (not NF4) and every adapted matrix becomes \
            W + scale·B·A in fp32 before conversion to --dtype. --format hf writes config.json, \
            model.safetensors and the tokenizer (default dtype f32); --format gguf writes one file \
            for llama.cpp with q/k rows in llama.cpp's RoPE order, norms in F32 and the tokenizer \
            metadata copied from a GGUF base (default dtype f16). The GGUF writer holds the whole \
            file in memory until it writes (fine for small models).
            """)

    /// Output formats of the merged model.
    enum Format: String, CaseIterable, ExpressibleByArgument {
        case hf, gguf
    }

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The PEFT LoRA adapter directory to merge.") var adapter: String
    @Option(help: "Directory (hf) or .gguf file (gguf) to write.") var out: String
    @Option(help: "Output format: hf or gguf.") var format: Format = .hf
    @Option(help: "Weight type: f32, f16 or bf16 (default: f32 for hf, f16 for gguf).") var dtype: HFExportDType?
    @Flag(help: "Replace existing output (files of a non-empty directory, or the .gguf file).") var overwrite = false

    func run() throws {
        let path = try ModelPath(modelOption.resolved)
        let base = try path.load(maxPositions: 1)
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), model: base.config)
        let merged = try Llama(config: base.config, weights: lora.merged(into: base.weights), maxPositions: 1)
        let description = "\(path.path) + \(adapter) (r=\(lora.rank), \(lora.targets.count) modules merged)"
        switch format {
        case .hf:
            let type = dtype ?? .f32
            let files = try exportHuggingFace(model: merged, tokenizer: path.tokenizerDefinition(), to: out,
                                              dtype: type, overwrite: overwrite)
            Console.print("merged \(description) into a Hugging Face directory (\(type.torchName)) at \(out)")
            Console.print(ExportCommand.fileTable(files.map { ($0.path, $0.bytes) }))
        case .gguf:
            let type = GGUFExportDType(rawValue: (dtype ?? .f16).rawValue) ?? .f16
            let tokenizer: GGUFTokenizerMetadata
            switch path {
            case .gguf(let file): tokenizer = GGUFTokenizerMetadata(copying: try GGUFFile(path: file))
            case .huggingFace: tokenizer = GGUFTokenizerMetadata(try path.tokenizerDefinition())
            }
            let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
            let file = try exportGGUF(model: merged, tokenizer: tokenizer, to: out, dtype: type, name: name, overwrite: overwrite)
            Console.print("merged \(description) into a GGUF file (\(type.rawValue.uppercased()) matrices) at \(out)")
            Console.print(ExportCommand.fileTable([(file.path, file.bytes)]))
        }
    }
}
