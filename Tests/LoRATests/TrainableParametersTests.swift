import Foundation
import Testing
import TestSupport
@testable import LoRA

@Suite struct TrainableParametersTests {
    /// 134,515,008: SmolLM2-135M with tied embeddings (model_info.json).
    let baseParameters = 134_515_008

    @Test func matchesPEFTStringsExactly() throws {
        let reference = try #require(try TestPaths.referenceJSON("trainable_params.json") as? [String: [String: Any]])
        let cases: [(String, LoRAConfig)] = [
            ("r16_alpha32_q_proj_v_proj", LoRAConfig(r: 16, loraAlpha: 32, targetModules: .names(["q_proj", "v_proj"]))),
            ("r8_alpha16_all_linear", LoRAConfig(r: 8, loraAlpha: 16, targetModules: .allLinear)),
        ]
        for (key, config) in cases {
            let entry = try #require(reference[key])
            let adapter = try LoRAAdapter(config: config, targets: config.targets(for: smolLM2))
            #expect(adapter.trainableParameterCount == entry["trainable"] as? Int)
            #expect(adapter.trainableParametersLine(totalBaseParameters: baseParameters) == entry["printed"] as? String)
            let kinds = Set(adapter.targets.map(\.module.rawValue))
            #expect(kinds == Set(entry["lora_wrapped_module_kinds"] as? [String] ?? []))
        }
    }

    @Test func formatsLikePython() {
        #expect(LoRAAdapter.trainableParametersLine(trainable: 921_600, all: 135_436_608)
            == "trainable params: 921,600 || all params: 135,436,608 || trainable%: 0.6805")
        #expect(LoRAAdapter.trainableParametersLine(trainable: 5, all: 999)
            == "trainable params: 5 || all params: 999 || trainable%: 0.5005")
        #expect(LoRAAdapter.grouped(1000) == "1,000" && LoRAAdapter.grouped(999) == "999" && LoRAAdapter.grouped(0) == "0")
        #expect(LoRAAdapter.grouped(1_234_567_890) == "1,234,567,890")
    }
}
