import ArgumentParser
import Collectives
import Foundation
import Kernels
import LlamaModel
import ModelIO
import LoRA
import Tokenization

/// `tessera eval --facts FILE`: a greedy chat answer per question (the adapter merged as
/// `generate --adapter` does), correct when an expected string occurs in it exactly.
/// Questions are dealt round-robin over the ranks of an mpirun job.
extension EvalCommand {
    func runFacts(_ file: String) -> Never {
        MPISession.run(context: computeOption.context) { environment in
            let world = environment.world
            let start = monotonicSeconds()
            try checkRanksAgree(world)
            let (generator, questions) = try world.agreed { () throws -> (PromptGenerator, [FactQuestion]) in
                let questions = try FactQuestion.read(file)
                let path = try ModelPath(modelOption.resolved)
                let tokenizer = try BPETokenizer(path.tokenizerDefinition())
                guard let template = try templateOption.resolve(for: tokenizer) else {
                    throw ValidationError("the model has no chat template; pass --chat-template chatml|llama3")
                }
                var model = try path.load(maxPositions: 4096, baseQuantization: baseQuant.resolved)
                if let adapter {
                    let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), model: model.config)
                    model = try Llama(config: model.config, weights: lora.merged(into: model.weights), maxPositions: model.maxPositions)
                }
                let generator = PromptGenerator(tokenizer: tokenizer, model: model, template: template, system: system,
                                                maxTokens: maxTokens, sampling: .greedy, stopStrings: [])
                return (generator, questions)
            }
            var mine: [String] = []
            for index in questions.indices where index % world.size == world.rank {
                mine.append(try generator.generate(questions[index].question).text)
            }
            // Each rank's answers travel as one JSON array (answers may hold any character).
            let gathered = try world.allGather(string: String(decoding: try JSONSerialization.data(withJSONObject: mine), as: UTF8.self))
            guard world.isRoot else { return }
            var perRank = try gathered.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] ?? [] }
            var results: [[String: Any]] = []
            var correct = 0
            for (index, fact) in questions.enumerated() {
                let answer = perRank[index % world.size].removeFirst()
                let ok = fact.isAnswered(by: answer)
                if ok { correct += 1 }
                results.append(["question": fact.question, "expected": fact.answers, "answer": answer, "correct": ok])
            }
            let total = questions.count
            if json {
                Console.print(Console.json([
                    "correct": correct, "total": total, "accuracy": Double(correct) / Double(total),
                    "results": results, "seconds": monotonicSeconds() - start, "ranks": world.size,
                ] as [String: Any]))
            } else {
                Console.print(String(format: "facts answered (exact string in a greedy answer): %d/%d (%.0f%%)",
                                     correct, total, 100 * Double(correct) / Double(total)))
            }
        }
    }
}
