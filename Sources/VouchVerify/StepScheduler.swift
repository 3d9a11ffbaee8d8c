import Dispatch
import Foundation

/// Judges the steps of a closure on all cores, each as soon as all its inputs are judged (no
/// barrier between depths). A step is given exactly its inputs' outcomes, so what it yields does
/// not depend on the order steps finish in.
///
/// All mutable state is guarded by `condition`; that is why the unchecked Sendable is sound.
final class StepScheduler<Outcome>: @unchecked Sendable {
    private let condition = NSCondition()
    private let inputs: [[Int]]
    private let dependents: [[Int]]
    private var waiting: [Int]
    private var ready: [Int]
    private var outcomes: [Outcome?]
    private var finished = 0
    private var failure: (step: Int, error: any Error)?

    /// `inputs[i]`: the steps step `i` uses; every input index is below `i` (inputs first).
    init(inputs: [[Int]]) {
        self.inputs = inputs
        var dependents = Array(repeating: [Int](), count: inputs.count)
        for (step, used) in inputs.enumerated() { for input in used { dependents[input].append(step) } }
        self.dependents = dependents
        waiting = inputs.map(\.count)
        ready = inputs.indices.filter { inputs[$0].isEmpty }.reversed()
        outcomes = Array(repeating: nil, count: inputs.count)
    }

    /// Every step's outcome, by index. `progress(done)` is called under the lock after each step.
    /// If a step throws, no new step starts and the error of the lowest failed step is rethrown.
    func run(workers: Int, progress: @escaping @Sendable (Int) -> Void,
             _ judge: @escaping @Sendable (_ step: Int, _ inputs: [Outcome]) throws -> Outcome) throws -> [Outcome] {
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in work(judge, progress) }
        if let failure { throw failure.error }
        return outcomes.map { $0! }
    }

    private func work(_ judge: (Int, [Outcome]) throws -> Outcome, _ progress: (Int) -> Void) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while ready.isEmpty && finished < outcomes.count && failure == nil { condition.wait() }
            guard failure == nil, let step = ready.popLast() else { return }
            let given = inputs[step].map { outcomes[$0]! }
            condition.unlock()
            let result = Result { try judge(step, given) }
            condition.lock()
            switch result {
            case .success(let outcome):
                outcomes[step] = outcome
                finished += 1
                for next in dependents[step] {
                    waiting[next] -= 1
                    if waiting[next] == 0 { ready.append(next) }
                }
                progress(finished)
            case .failure(let error):
                if failure.map({ step < $0.step }) ?? true { failure = (step, error) }
            }
            condition.broadcast()
        }
    }
}
