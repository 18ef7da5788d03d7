import Foundation
import Testing
@testable import Training

/// Decodes a config from JSON (the YAML path in the CLI uses the same Decodable code).
private func decode(_ json: String) throws -> TrainConfig {
    try JSONDecoder().decode(TrainConfig.self, from: Data(json.utf8))
}

/// The TrainConfigError `body` throws, or nil.
private func configError(_ body: () throws -> Void) -> TrainConfigError? {
    do { try body() } catch let error as TrainConfigError { return error } catch { return nil }
    return nil
}

@Suite struct TrainConfigTests {
    @Test func decodesEveryKeyAndKeepsDefaultsForTheRest() throws {
        let c = try decode("""
            {"model": "m.gguf", "data": {"train": "t.jsonl", "valid": "v.jsonl", "format": "chat"},
             "max_seq_len": 256, "packing": false, "lora": {"r": 8, "alpha": 16, "dropout": 0.05,
             "targets": "q_proj, v_proj", "rslora": true, "init": "gaussian"},
             "optimizer": {"lr": 0.001, "betas": [0.9, 0.95], "weight_decay": 0.01, "eps": 1e-6},
             "schedule": {"type": "linear", "warmup": 5}, "batch_size": 8, "grad_accumulation": 2,
             "epochs": 2, "eval_every": 10, "save_every": 20, "keep_last": 2, "seed": 7, "tp": 2,
             "base_quant": "none", "double_quant": false, "activation_checkpointing": false,
             "output_dir": "o", "max_grad_norm": 0.5}
            """)
        #expect(c.model == "m.gguf" && c.data.valid == "v.jsonl" && c.data.format == .chat)
        #expect(c.maxSeqLen == 256 && !c.packing && c.maskPrompt)
        #expect(c.lora.r == 8 && c.lora.alpha == 16 && c.lora.targets == ["q_proj", "v_proj"] && c.lora.rslora)
        #expect(c.lora.initialization == .gaussian)
        #expect(c.optimizer.betas == [0.9, 0.95] && c.optimizer.eps == 1e-6 && c.schedule.type == .linear)
        #expect(c.gradAccumulation == 2 && c.epochs == 2 && c.steps == nil && c.tp == 2 && c.baseQuant == .none)
        #expect(c.activationCheckpointing == .none)
        #expect(c.resolvedMicroBatchSize(dataParallel: 2) == 2)
        #expect(c.resolvedSteps(sequencesPerEpoch: 23) == 6)   // ceil(2 · 23 / 8)
        let defaults = try decode("{\"data\": \"t.jsonl\"}")
        #expect(defaults.data.train == "t.jsonl" && defaults.lora.r == 16 && defaults.optimizer.lr == 2e-4)
        #expect(defaults.resolvedSteps(sequencesPerEpoch: 5) == TrainConfig.defaultSteps)
    }

    @Test func activationCheckpointingTakesABoolOrAMode() throws {
        #expect(try decode("{\"activation_checkpointing\": true}").activationCheckpointing == .full)
        #expect(try decode("{\"activation_checkpointing\": \"selective\"}").activationCheckpointing == .selective)
        #expect(try decode("{\"activation_checkpointing\": \"None\"}").activationCheckpointing == .none)
        #expect(try decode("{}").activationCheckpointing == .full)
        guard case .invalidValue(let key, let detail) = configError({ _ = try decode("{\"activation_checkpointing\": \"some\"}") }) else {
            Issue.record("a bad checkpointing mode is not refused"); return
        }
        #expect(key == "activation_checkpointing" && detail.contains("full, selective, none"))
    }

    @Test func unknownKeyNamesItAndSuggestsTheClosest() {
        #expect(configError { _ = try decode("{\"bach_size\": 8}") }
            == .unknownKey(key: "bach_size", suggestion: "batch_size", valid: TrainConfig.CodingKeys.allCases.map(\.stringValue)))
        let nested = configError { _ = try decode("{\"lora\": {\"dropuot\": 0.1}}") }
        guard case .unknownKey(let key, let suggestion, _) = nested else { Issue.record("got \(String(describing: nested))"); return }
        #expect(key == "lora.dropuot" && suggestion == "lora.dropout")
        #expect(nested?.description.contains("did you mean 'lora.dropout'?") == true)
    }

    @Test func wrongTypeNamesTheKeyAndTheExpectedType() {
        #expect(configError { _ = try decode("{\"max_seq_len\": \"long\"}") } == .wrongType(key: "max_seq_len", expected: "an integer"))
        #expect(configError { _ = try decode("{\"optimizer\": {\"lr\": \"fast\"}}") } == .wrongType(key: "optimizer.lr", expected: "a number"))
        #expect(configError { _ = try decode("{\"packing\": 3}") } == .wrongType(key: "packing", expected: "true or false"))
        #expect(configError { _ = try decode("{\"lora\": 5}") } == .wrongType(key: "lora", expected: "a mapping of keys to values"))
        guard case .invalidValue(let key, _) = configError({ _ = try decode("{\"schedule\": {\"type\": \"cosin\"}}") }) else {
            Issue.record("a bad schedule type is not refused"); return
        }
        #expect(key == "schedule.type")
    }

    @Test func encodingRoundTrips() throws {
        var c = TrainConfig()
        c.data.train = "t.jsonl"
        c.steps = 12
        c.lora.targets = ["q_proj", "k_proj"]
        c.lora.alpha = 32
        let again = try JSONDecoder().decode(TrainConfig.self, from: try JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func validationNamesTheKey() {
        var c = TrainConfig()
        #expect(configError { try c.validate() } == .invalidValue(key: "data.train", detail: "no training data: set data.train in the config or pass --data"))
        c.data.train = "t.jsonl"
        c.steps = 3
        c.epochs = 1
        guard case .invalidValue(let key, _) = configError({ try c.validate() }) else { Issue.record("steps + epochs accepted"); return }
        #expect(key == "steps")
    }

    @Test func resumeIdentityIgnoresWhereAndHowOftenThingsAreWritten() {
        var a = TrainConfig(), b = TrainConfig()
        b.outputDir = "elsewhere"
        b.saveEvery = 5
        b.keepLast = 9
        b.microBatchSize = 1
        let digests = (train: "x", valid: String?.none)
        #expect(a.resumeIdentity(steps: 10, dataDigests: digests) == b.resumeIdentity(steps: 10, dataDigests: digests))
        a.optimizer.lr = 1e-3
        #expect(a.resumeIdentity(steps: 10, dataDigests: digests) != b.resumeIdentity(steps: 10, dataDigests: digests))
        #expect(b.resumeIdentity(steps: 10, dataDigests: digests) != b.resumeIdentity(steps: 11, dataDigests: digests))
    }

    @Test func editDistanceAndValidationSplit() {
        #expect(editDistance("kitten", "sitting") == 3 && editDistance("", "abc") == 3 && editDistance("same", "same") == 0)
        let split = ValidationSplit.holdOut(rowCount: 100, seed: 1)
        #expect(split.valid.count == 5 && split.train.count == 95 && Set(split.valid).isDisjoint(with: split.train))
        #expect(ValidationSplit.holdOut(rowCount: 100, seed: 1) == split)
        #expect(ValidationSplit.holdOut(rowCount: 100, seed: 2).valid != split.valid)
        #expect(ValidationSplit.holdOut(rowCount: 3, seed: 1).valid.count == 1)
        #expect(ValidationSplit.holdOut(rowCount: 1, seed: 1).valid.isEmpty)
    }
}
