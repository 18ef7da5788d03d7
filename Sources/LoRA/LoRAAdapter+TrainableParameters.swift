// PEFT's `print_trainable_parameters()` line, character for character:
//   f"trainable params: {trainable:,d} || all params: {all:,d} || trainable%: {100 * trainable / all:.4f}"
// where `all` counts every parameter of the wrapped model: the base model's plus the adapter's.

import Foundation

extension LoRAAdapter {
    /// The line PEFT prints for this adapter on a base model with `totalBaseParameters`
    /// parameters (tied embeddings counted once, as `model.parameters()` does).
    public func trainableParametersLine(totalBaseParameters: Int) -> String {
        Self.trainableParametersLine(trainable: trainableParameterCount,
                                     all: totalBaseParameters + trainableParameterCount)
    }

    /// PEFT's line for explicit counts; `all` includes the trainable parameters.
    public static func trainableParametersLine(trainable: Int, all: Int) -> String {
        // Python's int / int is the correctly rounded quotient, as is Double division of
        // exactly representable operands; "%.4f" rounds the binary value like Python's format.
        let percent = all > 0 ? 100 * Double(trainable) / Double(all) : 0
        return "trainable params: \(grouped(trainable)) || all params: \(grouped(all)) || trainable%: \(String(format: "%.4f", percent))"
    }

    /// Python's `{:,d}`: thousands separated by commas.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
