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

            --quant (gguf only) picks llama.cpp's quantization mix: f16 (the same as --dtype f16), \
            q8_0 (every matrix Q8_0) or q4_k_m (Q4_K with Q6_K for output and some attn_v / \
            ffn_down layers, and llama.cpp's Q5_0 / Q8_0 fallback for rows that are not whole \
            256-blocks). Quantized exports take no --dtype: the mix decides every matrix's type. \
            A GGUF export also writes <name>.Modelfile beside the file for `ollama create`.
            """)

    /// `--quant` values: no quantization (F16) or one of llama.cpp's mixes.
    enum Quant: String, CaseIterable, ExpressibleByArgument {
        case f16, q8_0, q4_k_m

        var mix: GGUFQuantization? { GGUFQuantization(rawValue: rawValue) }
    }

    /// Output formats of the merged model.
    enum Format: String, CaseIterable, ExpressibleByArgument {
        case hf, gguf
    }

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The PEFT LoRA adapter directory to merge.") var adapter: String
    @Option(help: "Directory (hf) or .gguf file (gguf) to write.") var out: String
    @Option(help: "Output format: hf or gguf.") var format: Format = .hf
    @Option(help: "Weight type: f32, f16 or bf16 (default: f32 for hf, f16 for gguf).") var dtype: HFExportDType?
    @Option(help: "GGUF quantization: f16, q8_0 or q4_k_m (llama.cpp's mixes; gguf only).") var quant: Quant?
    @Flag(help: "Replace existing output (files of a non-empty directory, or the .gguf file and its Modelfile).") var overwrite = false

    func validate() throws {
        guard let quant else { return }
        if format != .gguf {
            throw ValidationError("--quant \(quant.rawValue) needs --format gguf; Hugging Face exports take --dtype")
        }
        if quant.mix != nil, let dtype {
            throw ValidationError("--quant \(quant.rawValue) chooses every matrix's type; drop --dtype \(dtype.rawValue)")
        }
        if quant == .f16, let dtype, dtype != .f16 {
            throw ValidationError("--quant f16 and --dtype \(dtype.rawValue) disagree; pass one of them")
        }
    }

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
                                              dtype: type, overwrite: overwrite, tokenizerFiles: path.ownTokenizerFiles())
            Console.print("merged \(description) into a Hugging Face directory (\(type.torchName)) at \(out)")
            Console.print(ExportCommand.fileTable(files.map { ($0.path, $0.bytes) }))
        case .gguf:
            let type = GGUFExportDType(rawValue: (dtype ?? .f16).rawValue) ?? .f16
            let tokenizer: GGUFTokenizerMetadata
            switch path {
            case .gguf(let file): tokenizer = GGUFTokenizerMetadata(copying: try GGUFFile(path: file))
            case .huggingFace: tokenizer = GGUFTokenizerMetadata(try path.tokenizerDefinition())
            }
            let outURL = URL(fileURLWithPath: out)
            let name = outURL.deletingPathExtension().lastPathComponent
            let modelfile = outURL.deletingLastPathComponent().appendingPathComponent(name + ".Modelfile").path
            if FileManager.default.fileExists(atPath: modelfile), !overwrite {
                throw ValidationError("\(modelfile) exists; pass --overwrite to replace it")
            }
            let started = Date()
            let mix = quant?.mix
            let file = try exportGGUF(model: merged, tokenizer: tokenizer, to: out, dtype: type, quantization: mix,
                                      name: name, overwrite: overwrite)
            let text = ollamaModelfile(ggufFileName: outURL.lastPathComponent, tokenizer: tokenizer)
            do {
                try text.write(toFile: modelfile, atomically: true, encoding: .utf8)
            } catch {
                throw ModelFormatsError.io(file: modelfile, detail: "cannot write the Ollama Modelfile: \(error.localizedDescription)")
            }
            let seconds = Date().timeIntervalSince(started)
            let what = mix.map { "\($0.rawValue.uppercased()) mix: \(Self.typeCounts(file.path))" }
                ?? "\(type.rawValue.uppercased()) matrices"
            Console.print("merged \(description) into a GGUF file (\(what)) at \(out) in \(String(format: "%.1f", seconds)) s")
            Console.print(ExportCommand.fileTable([(file.path, file.bytes), (modelfile, text.utf8.count)]))
        }
    }

    /// "n×TYPE" per tensor type of a written GGUF, most frequent first.
    static func typeCounts(_ path: String) -> String {
        guard let file = try? GGUFFile(path: path) else { return "unreadable" }
        var counts: [String: Int] = [:]
        for tensor in file.tensors { counts[tensor.type.description, default: 0] += 1 }
        return counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
    }
}
