import ArgumentParser
import LoRA

/// The LoRA flags shared by `train` and `info` (PEFT's names: r, lora_alpha, lora_dropout,
/// target_modules, use_rslora).
struct LoRAOptions: ParsableArguments {
    @Option(help: "LoRA rank r (default 16).") var loraR: Int?
    @Option(help: "LoRA alpha (default 2·r).") var loraAlpha: Double?
    @Option(help: "LoRA dropout on the adapted layers' inputs.") var loraDropout = 0.0
    @Option(help: "Target modules: names (q_proj,v_proj), all-linear, or a regex over module names (default q_proj,v_proj).")
    var loraTargets: String?
    @Flag(help: "Rank-stabilised LoRA scaling (alpha / sqrt(r)).") var rslora = false

    /// True when any LoRA option was given (info prints the trainable-parameter line then).
    var given: Bool { loraR != nil || loraAlpha != nil || loraTargets != nil }

    /// The target specification: `all-linear`, a regex when the text has regex syntax, else a
    /// comma-separated list of module names.
    var targets: TargetModules {
        let text = loraTargets ?? "q_proj,v_proj"
        if text == "all-linear" { return .allLinear }
        if text.contains(where: { "^$*+?()[]{}|\\".contains($0) }) { return .regex(text) }
        return .names(text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
    }

    /// The PEFT configuration these flags describe (validated by the adapter that uses it).
    func config(baseModel: String?) -> LoRAConfig {
        let r = loraR ?? 16
        return LoRAConfig(r: r, loraAlpha: loraAlpha ?? Double(2 * r), loraDropout: loraDropout, targetModules: targets,
                          useRSLoRA: rslora, baseModelNameOrPath: baseModel)
    }
}
