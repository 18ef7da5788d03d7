import Foundation

/// A deliberate failure for the fault-handling tests: `TESSERA_INJECT_FAULT=RANK:STEP` makes
/// world rank RANK fail at the start of step STEP (1-based), as a bad data line or a failed
/// allocation on one rank would. Nothing happens when the variable is unset.
struct FaultInjection {
    let rank: Int
    let step: Int

    static let variable = "TESSERA_INJECT_FAULT"

    static var fromEnvironment: FaultInjection? {
        guard let text = ProcessInfo.processInfo.environment[variable] else { return nil }
        let parts = text.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2 else { return nil }
        return FaultInjection(rank: parts[0], step: parts[1])
    }

    /// Throws on the chosen rank at the chosen step.
    func check(rank: Int, step: Int) throws {
        if rank == self.rank && step == self.step {
            throw InjectedFault(description: "injected fault at step \(step) (\(FaultInjection.variable))")
        }
    }
}

struct InjectedFault: Error, CustomStringConvertible {
    let description: String
}

/// `TESSERA_INJECT_NAN=STEP[,STEP...]`: the loss of these 1-based steps becomes NaN on every
/// rank (Trainer.step's `injectNonFinite`), to test the non-finite handling. Empty when unset.
enum NonFiniteInjection {
    static let variable = "TESSERA_INJECT_NAN"

    static var fromEnvironment: Set<Int> {
        guard let text = ProcessInfo.processInfo.environment[variable] else { return [] }
        return Set(text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
    }
}
