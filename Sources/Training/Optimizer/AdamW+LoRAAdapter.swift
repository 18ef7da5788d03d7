// The optimizer's view of a LoRA adapter: every A and B with its gradient, named by PEFT key.

import LoRA

extension OptimizedParameter {
    /// The adapter's factors in PEFT order (per target: A, then B).
    public static func parameters(of adapter: LoRAAdapter) -> [OptimizedParameter] {
        adapter.factors.flatMap { f in
            [OptimizedParameter(name: f.target.loraAName, value: f.a, gradient: f.gradA),
             OptimizedParameter(name: f.target.loraBName, value: f.b, gradient: f.gradB)]
        }
    }
}
