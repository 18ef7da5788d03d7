// Which modules of a given model get an adapter, following PEFT's
// `check_target_module_exists`: a string is a full-match regex (or "all-linear"); a list entry
// matches a module whose full name equals it (no layer filter, as in PEFT) or ends with
// "." + entry (then `layers_to_transform` applies).

import LlamaModel

extension LoRAConfig {
    /// The wrapped modules of `model`, layer by layer in PEFT's module order
    /// (q, k, v, o, gate, up, down).
    ///
    /// Throws `invalidConfig` when a listed target names no module of this model, when a layer in
    /// `layers_to_transform` does not exist, or when nothing matches at all.
    public func targets(for model: LlamaConfig) throws -> [LoRATarget] {
        let targetModules = resolved(for: model).targetModules
        try validate()
        let layerCount = model.numHiddenLayers
        if let layers = layersToTransform, let bad = layers.first(where: { $0 >= layerCount }) {
            throw LoRAError.invalidConfig("layers_to_transform contains layer \(bad), but the model has \(layerCount) layers (0...\(layerCount - 1))")
        }
        let selectedLayers = layersToTransform.map(Set.init)
        // Phi-3's q/k/v and gate/up are one module each (qkv_proj, gate_up_proj): matched, and
        // adapted, as a whole.
        let fused = model.architecture.fusedProjections
        func fullName(_ module: LinearModule, _ layer: Int) -> String { module.fullName(layer: layer, fused: fused) }

        let isTarget: (Int, LinearModule) -> Bool
        switch targetModules {
        case .allLinear:
            isTarget = { _, _ in true }
        case .regex(let pattern):
            let regex = try Self.compile(pattern)
            isTarget = { layer, module in (try? regex.wholeMatch(in: fullName(module, layer))) != nil }
        case .names(let names):
            for name in names {
                let matchesSomething = (0..<layerCount).contains { layer in
                    LinearModule.allCases.contains { Self.suffixMatches(name, module: fullName($0, layer)) }
                }
                guard matchesSomething else {
                    let fusedHint = fused && LinearModule(rawValue: name)?.fusedProjection != nil
                        ? "; \(model.architecture.modelType) stores \(name) inside \(LinearModule(rawValue: name)?.fusedProjection?.rawValue ?? ""), target that" : ""
                    throw LoRAError.invalidConfig("target module '\(name)' is not a module of this model (\(layerCount) layers; valid names: \(LinearModule.names(in: model).joined(separator: ", "))\(fusedHint))")
                }
            }
            isTarget = { layer, module in
                let full = fullName(module, layer)
                if names.contains(full) { return true }
                guard names.contains(where: { Self.suffixMatches($0, module: full) }) else { return false }
                return selectedLayers?.contains(layer) ?? true
            }
        }

        var result: [LoRATarget] = []
        for layer in 0..<layerCount {
            for module in LinearModule.allCases where isTarget(layer, module) {
                let (inFeatures, outFeatures) = module.features(in: model)
                result.append(LoRATarget(layer: layer, module: module, inFeatures: inFeatures, outFeatures: outFeatures,
                                         fused: fused ? module.fusedProjection : nil))
            }
        }
        guard !result.isEmpty else {
            throw LoRAError.invalidConfig("target_modules \(targetModules) with layers_to_transform \(layersToTransform.map { "\($0)" } ?? "null") matches no module of this model")
        }
        return result
    }

    /// The config as it applies to `model`: on a family with fused projections (Phi-3), the
    /// default list (q_proj, v_proj, rows of the fused qkv_proj there) becomes PEFT's default
    /// for the family, qkv_proj. Anything else is unchanged.
    public func resolved(for model: LlamaConfig) -> LoRAConfig {
        guard model.architecture.fusedProjections, case .names(let names) = targetModules,
              names == Self.defaultLlamaTargets else { return self }
        var config = self
        config.targetModules = .names([FusedProjection.qkv.rawValue])
        return config
    }

    /// PEFT's list rule: equal to the full name, or a suffix after a dot.
    static func suffixMatches(_ entry: String, module fullName: String) -> Bool {
        fullName == entry || fullName.hasSuffix("." + entry)
    }
}
