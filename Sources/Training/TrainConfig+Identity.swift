// What makes two runs "the same run" for --resume: every setting that changes the numbers of a
// step (data content, batch, schedule, optimizer, LoRA shape, seed, quantization, tp), and not
// the ones that only change where or how often things are written, or memory use (output_dir,
// save_every, keep_last, log_every, eval_every unless it creates the held-out split,
// micro-batching, activation checkpointing). Paths are replaced by content hashes so a run can
// resume after its files moved.

import Foundation

extension TrainConfig {
    /// The resume-relevant settings as text, key by key (compared key by key to say what differs).
    /// - Parameters:
    ///   - steps: the resolved length of the schedule.
    ///   - dataDigests: identities of the training and validation files (RunIdentity.file).
    public func resumeIdentity(steps: Int, dataDigests: (train: String, valid: String?)) -> [String: String] {
        var identity: [String: String] = [
            "data.train": dataDigests.train,
            "data.format": data.format.rawValue,
            "max_seq_len": String(maxSeqLen),
            "packing": String(packing),
            "mask_prompt": String(maskPrompt),
            "lora.r": String(lora.r),
            "lora.alpha": String(lora.alpha ?? Double(2 * lora.r)),
            "lora.dropout": String(lora.dropout),
            "lora.targets": lora.targets.joined(separator: ","),
            "lora.rslora": String(lora.rslora),
            "lora.init": String(describing: lora.initialization),
            "optimizer.lr": String(optimizer.lr),
            "optimizer.betas": optimizer.betas.map { String($0) }.joined(separator: ","),
            "optimizer.weight_decay": String(optimizer.weightDecay),
            "optimizer.eps": String(optimizer.eps),
            "schedule.type": schedule.type.rawValue,
            "schedule.warmup": String(schedule.warmup),
            "steps": String(steps),
            "batch_size": String(batchSize),
            "seed": String(seed),
            "tp": String(tp),
            "base_quant": baseQuant.rawValue,
            "double_quant": String(doubleQuant),
            "max_grad_norm": String(maxGradNorm),
            // The held-out split removes rows from the training data.
            "held_out_split": String(holdsOutValidation),
        ]
        if let valid = dataDigests.valid { identity["data.valid"] = valid }
        return identity
    }

    /// True when a seeded part of the training rows is held out for evaluation.
    public var holdsOutValidation: Bool { evalEvery > 0 && data.valid == nil }
}

/// Content identities of the files a run reads.
public enum RunIdentity {
    /// `bytes:<size> sha256:<digest>` of a whole file.
    public static func file(_ path: String) throws(CheckpointError) -> String {
        let size = try Self.size(path)
        do { return "bytes:\(size) sha256:\(try SHA256.hex(ofFile: path))" } catch { throw .unreadable(path, "\(error)") }
    }

    /// The base model's identity: for a file (GGUF), its size and the hash of its first MiB
    /// (header, metadata and tensor table); for a Hugging Face directory, the hash of config.json
    /// and the size of every weights file.
    public static func model(_ path: String) throws(CheckpointError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path, "no such file or directory")
        }
        if !isDirectory.boolValue {
            let head: String
            do { head = try SHA256.hex(ofFile: path, limit: 1 << 20) } catch { throw .unreadable(path, "\(error)") }
            return "bytes:\(try size(path)) head-sha256:\(head)"
        }
        let directory = URL(fileURLWithPath: path)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        var parts: [String] = []
        let configPath = directory.appendingPathComponent("config.json").path
        if FileManager.default.fileExists(atPath: configPath) {
            do { parts.append("config.json sha256:\(try SHA256.hex(ofFile: configPath))") } catch { throw .unreadable(configPath, "\(error)") }
        }
        for name in names where name.hasSuffix(".safetensors") {
            parts.append("\(name) bytes:\(try size(directory.appendingPathComponent(name).path))")
        }
        return parts.joined(separator: "; ")
    }

    static func size(_ path: String) throws(CheckpointError) -> Int {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int else {
            throw .unreadable(path, "cannot read its size")
        }
        return size
    }
}
