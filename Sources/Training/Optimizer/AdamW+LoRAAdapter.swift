// The optimizer's view of a LoRA adapter: every A and B with its gradient, named by PEFT key.

import LoRA

extension OptimizedParameter {
    /// The adapter's tensors in PEFT order (per target: A, then B).
    public static func parameters(of adapter: LoRAAdapter) -> [OptimizedParameter] {
        parameters(of: adapter.tensors)
    }

    /// One parameter per trainable tensor, in the list's order.
    public static func parameters(of tensors: [TrainableTensor]) -> [OptimizedParameter] {
        tensors.map { OptimizedParameter(name: $0.name, value: $0.value, gradient: $0.gradient) }
    }
}
