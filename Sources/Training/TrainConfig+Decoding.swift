// Decoding and encoding of TrainConfig with the checks a person needs when a file is wrong:
// a key that is not known is an error naming it and the closest valid key (Levenshtein), a
// value of the wrong type is an error naming the key and the expected type. Works with any
// Decoder (Yams' YAMLDecoder in the CLI, JSONDecoder in tests); missing keys keep the defaults.

import LlamaModel
import Foundation
import LoRA

/// Errors of a training configuration; each names the key (dotted path) at fault.
public enum TrainConfigError: Error, Equatable, CustomStringConvertible {
    case unknownKey(key: String, suggestion: String?, valid: [String])
    case wrongType(key: String, expected: String)
    case invalidValue(key: String, detail: String)
    /// The file cannot be read or is not YAML.
    case unreadable(file: String, detail: String)

    public var description: String {
        switch self {
        case .unknownKey(let key, let suggestion, let valid):
            let hint = suggestion.map { " — did you mean '\($0)'?" } ?? ""
            return "unknown key '\(key)' in the training config\(hint) (valid here: \(valid.joined(separator: ", ")))"
        case .wrongType(let key, let expected):
            return "config key '\(key)' must be \(expected)"
        case .invalidValue(let key, let detail):
            return "config key '\(key)': \(detail)"
        case .unreadable(let file, let detail):
            return "\(file): \(detail)"
        }
    }
}

/// Levenshtein edit distance (insertions, deletions, substitutions).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// A value type with a human name for type errors.
protocol ConfigValue: Decodable { static var expected: String { get } }
extension Int: ConfigValue { static var expected: String { "an integer" } }
extension UInt64: ConfigValue { static var expected: String { "a non-negative integer" } }
extension Double: ConfigValue { static var expected: String { "a number" } }
extension Bool: ConfigValue { static var expected: String { "true or false" } }
extension String: ConfigValue { static var expected: String { "a string" } }
extension Array: ConfigValue where Element: ConfigValue {
    static var expected: String { "a list (each \(Element.expected))" }
}

/// Any key, to see every key a mapping holds.
struct AnyConfigKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Reads one mapping of the config, refusing unknown keys and naming keys in type errors.
struct ConfigMapping<Key: CodingKey & CaseIterable> {
    let container: KeyedDecodingContainer<AnyConfigKey>
    let path: [String]

    init(_ decoder: Decoder) throws {
        path = decoder.codingPath.map(\.stringValue)
        do { container = try decoder.container(keyedBy: AnyConfigKey.self) } catch {
            throw TrainConfigError.wrongType(key: path.isEmpty ? "(top level)" : path.joined(separator: "."), expected: "a mapping of keys to values")
        }
        let valid = Key.allCases.map(\.stringValue)
        for key in container.allKeys.map(\.stringValue).sorted() where !valid.contains(key) {
            let closest = valid.min { editDistance(key, $0) < editDistance(key, $1) }
            throw TrainConfigError.unknownKey(key: name(key), suggestion: closest.map(name), valid: valid)
        }
    }

    func name(_ key: String) -> String { (path + [key]).joined(separator: ".") }

    /// The value under `key`, nil when absent or null.
    func value<T: ConfigValue>(_ type: T.Type, _ key: Key) throws -> T? {
        do { return try container.decodeIfPresent(T.self, forKey: AnyConfigKey(stringValue: key.stringValue)) } catch let error as TrainConfigError {
            throw error
        } catch {
            throw TrainConfigError.wrongType(key: name(key.stringValue), expected: T.expected)
        }
    }

    /// A nested mapping (its own init checks its keys).
    func section<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        do { return try container.decodeIfPresent(T.self, forKey: AnyConfigKey(stringValue: key.stringValue)) } catch let error as TrainConfigError {
            throw error
        } catch {
            throw TrainConfigError.wrongType(key: name(key.stringValue), expected: "a mapping of keys to values")
        }
    }

    /// A string that must be one of `E`'s raw values.
    func choice<E: RawRepresentable & CaseIterable>(_ type: E.Type, _ key: Key) throws -> E? where E.RawValue == String {
        guard let text = try value(String.self, key) else { return nil }
        if let value = E(rawValue: text.lowercased()) { return value }
        let allowed = E.allCases.map(\.rawValue)
        throw TrainConfigError.invalidValue(key: name(key.stringValue), detail: "'\(text)' is not one of \(allowed.joined(separator: ", "))")
    }

    /// True when `key` is present (even as null).
    func has(_ key: Key) -> Bool { container.contains(AnyConfigKey(stringValue: key.stringValue)) }
}

extension TrainConfig: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, data, packing, lora, optimizer, schedule, steps, epochs, seed, tp
        case maxSeqLen = "max_seq_len", maskPrompt = "mask_prompt", batchSize = "batch_size"
        case microBatchSize = "micro_batch_size", gradAccumulation = "grad_accumulation"
        case evalEvery = "eval_every", saveEvery = "save_every", keepLast = "keep_last", logEvery = "log_every"
        case baseQuant = "base_quant", doubleQuant = "double_quant", activationCheckpointing = "activation_checkpointing"
        case outputDir = "output_dir", maxGradNorm = "max_grad_norm"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let m = try ConfigMapping<CodingKeys>(decoder)
        model = try m.value(String.self, .model)
        // `data: train.jsonl` is short for `data: {train: train.jsonl}`.
        if m.has(.data), let path = try? m.container.decode(String.self, forKey: AnyConfigKey(stringValue: "data")) {
            data.train = path
        } else if let section = try m.section(DataPaths.self, .data) {
            data = section
        }
        maxSeqLen = try m.value(Int.self, .maxSeqLen) ?? maxSeqLen
        packing = try m.value(Bool.self, .packing) ?? packing
        maskPrompt = try m.value(Bool.self, .maskPrompt) ?? maskPrompt
        lora = try m.section(LoRASection.self, .lora) ?? lora
        optimizer = try m.section(OptimizerSection.self, .optimizer) ?? optimizer
        schedule = try m.section(ScheduleSection.self, .schedule) ?? schedule
        batchSize = try m.value(Int.self, .batchSize) ?? batchSize
        microBatchSize = try m.value(Int.self, .microBatchSize)
        gradAccumulation = try m.value(Int.self, .gradAccumulation)
        steps = try m.value(Int.self, .steps)
        epochs = try m.value(Double.self, .epochs)
        evalEvery = try m.value(Int.self, .evalEvery) ?? evalEvery
        saveEvery = try m.value(Int.self, .saveEvery) ?? saveEvery
        keepLast = try m.value(Int.self, .keepLast) ?? keepLast
        logEvery = try m.value(Int.self, .logEvery)
        seed = try m.value(UInt64.self, .seed) ?? seed
        tp = try m.value(Int.self, .tp) ?? tp
        baseQuant = try m.choice(BaseQuant.self, .baseQuant) ?? baseQuant
        doubleQuant = try m.value(Bool.self, .doubleQuant) ?? doubleQuant
        // true / false (full / none, the key's first form) or a mode's name.
        if let flag = try? m.value(Bool.self, .activationCheckpointing) {
            activationCheckpointing = flag ? .full : .none
        } else {
            activationCheckpointing = try m.choice(ActivationCheckpointing.self, .activationCheckpointing) ?? activationCheckpointing
        }
        outputDir = try m.value(String.self, .outputDir) ?? outputDir
        maxGradNorm = try m.value(Double.self, .maxGradNorm) ?? maxGradNorm
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encode(data, forKey: .data)
        try c.encode(maxSeqLen, forKey: .maxSeqLen)
        try c.encode(packing, forKey: .packing)
        try c.encode(maskPrompt, forKey: .maskPrompt)
        try c.encode(lora, forKey: .lora)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(schedule, forKey: .schedule)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encodeIfPresent(microBatchSize, forKey: .microBatchSize)
        try c.encodeIfPresent(gradAccumulation, forKey: .gradAccumulation)
        try c.encodeIfPresent(steps, forKey: .steps)
        try c.encodeIfPresent(epochs, forKey: .epochs)
        try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(saveEvery, forKey: .saveEvery)
        try c.encode(keepLast, forKey: .keepLast)
        try c.encodeIfPresent(logEvery, forKey: .logEvery)
        try c.encode(seed, forKey: .seed)
        try c.encode(tp, forKey: .tp)
        try c.encode(baseQuant, forKey: .baseQuant)
        try c.encode(doubleQuant, forKey: .doubleQuant)
        try c.encode(activationCheckpointing, forKey: .activationCheckpointing)
        try c.encode(outputDir, forKey: .outputDir)
        try c.encode(maxGradNorm, forKey: .maxGradNorm)
    }
}

extension TrainConfig.DataPaths: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable { case train, valid, format }

    public init(from decoder: Decoder) throws {
        self.init()
        let m = try ConfigMapping<CodingKeys>(decoder)
        train = try m.value(String.self, .train)
        valid = try m.value(String.self, .valid)
        format = try m.choice(TrainConfig.DataFormat.self, .format) ?? format
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(train, forKey: .train)
        try c.encodeIfPresent(valid, forKey: .valid)
        try c.encode(format, forKey: .format)
    }
}

extension TrainConfig.LoRASection: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable { case r, alpha, dropout, targets, rslora, `init` }

    public init(from decoder: Decoder) throws {
        self.init()
        let m = try ConfigMapping<CodingKeys>(decoder)
        r = try m.value(Int.self, .r) ?? r
        alpha = try m.value(Double.self, .alpha)
        dropout = try m.value(Double.self, .dropout) ?? dropout
        // A list of names, or one string: all-linear, a regex, or comma-separated names.
        if let list = try? m.container.decodeIfPresent([String].self, forKey: AnyConfigKey(stringValue: "targets")) {
            targets = list
        } else if let text = try m.value(String.self, .targets) {
            let isRegex = text.contains(where: { "^$*+?()[]{}|\\".contains($0) })
            targets = isRegex ? [text] : text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        }
        rslora = try m.value(Bool.self, .rslora) ?? rslora
        // PEFT's init_lora_weights: true (Kaiming-uniform A, zero B), "gaussian", or false.
        if let flag = try? m.container.decodeIfPresent(Bool.self, forKey: AnyConfigKey(stringValue: "init")) {
            initialization = flag ? .kaimingUniform : .linearDefault
        } else if let text = try m.value(String.self, .`init`) {
            switch text.lowercased() {
            case "gaussian": initialization = .gaussian
            case "kaiming", "kaiming_uniform", "default": initialization = .kaimingUniform
            default:
                throw TrainConfigError.invalidValue(key: m.name("init"), detail: "'\(text)' is not one of true, false, gaussian")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(r, forKey: .r)
        try c.encode(alpha ?? Double(2 * r), forKey: .alpha)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(targets, forKey: .targets)
        try c.encode(rslora, forKey: .rslora)
        switch initialization {
        case .kaimingUniform: try c.encode(true, forKey: .`init`)
        case .linearDefault: try c.encode(false, forKey: .`init`)
        case .gaussian: try c.encode("gaussian", forKey: .`init`)
        }
    }
}

extension TrainConfig.OptimizerSection: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable { case lr, betas, eps, weightDecay = "weight_decay" }

    public init(from decoder: Decoder) throws {
        self.init()
        let m = try ConfigMapping<CodingKeys>(decoder)
        lr = try m.value(Double.self, .lr) ?? lr
        betas = try m.value([Double].self, .betas) ?? betas
        weightDecay = try m.value(Double.self, .weightDecay) ?? weightDecay
        eps = try m.value(Double.self, .eps) ?? eps
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lr, forKey: .lr)
        try c.encode(betas, forKey: .betas)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(eps, forKey: .eps)
    }
}

extension TrainConfig.ScheduleSection: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable { case type, warmup }

    public init(from decoder: Decoder) throws {
        self.init()
        let m = try ConfigMapping<CodingKeys>(decoder)
        type = try m.choice(TrainConfig.ScheduleType.self, .type) ?? type
        warmup = try m.value(Int.self, .warmup) ?? warmup
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(warmup, forKey: .warmup)
    }
}
