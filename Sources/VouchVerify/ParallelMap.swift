import Dispatch

extension Verifier {
    /// `transform` applied to every item on all cores; results in input order. The first error
    /// (in input order) is rethrown.
    static func parallelMap<T: Sendable, R>(_ items: [T], _ transform: @escaping @Sendable (T) throws -> R) throws -> [R] {
        let slots = UnsafeMutableBufferPointer<Result<R, any Error>?>.allocate(capacity: items.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize().deallocate() }
        let shared = Slots(slots)
        // Small chunks keep all cores busy when items differ in cost.
        let chunk = max(1, min(16, items.count / 16))
        let chunks = (items.count + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(items.count, (c + 1) * chunk) {
                shared.buffer[i] = Result { try transform(items[i]) }
            }
        }
        return try slots.map { try $0!.get() }
    }
}

/// Result slots written by concurrent workers, each slot by exactly one worker and read only
/// after `concurrentPerform` returns; that happens-before edge is why the unchecked Sendable is sound.
struct Slots<R>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Result<R, any Error>?>
    init(_ buffer: UnsafeMutableBufferPointer<Result<R, any Error>?>) { self.buffer = buffer }
}

extension Verifier {
    /// `first` and `second` at once (the second on another core); the first's error is rethrown
    /// before the second's.
    static func both<A, B>(_ first: () throws -> A, _ second: () throws -> B) throws -> (A, B) {
        let results = PairSlots<A, B>()
        withoutActuallyEscaping(first) { first in
            withoutActuallyEscaping(second) { second in
                let work = UncheckedWork(first: first, second: second, results: results)
                DispatchQueue.concurrentPerform(iterations: 2) { k in work.run(k) }
            }
        }
        return (try results.first!.get(), try results.second!.get())
    }
}

/// The two results of ``Verifier/both(_:_:)``, each written by one worker and read after
/// `concurrentPerform` returns.
private final class PairSlots<A, B>: @unchecked Sendable {
    var first: Result<A, any Error>?
    var second: Result<B, any Error>?
}

/// The two closures of ``Verifier/both(_:_:)``: each runs on exactly one worker, once, while
/// the caller waits in `concurrentPerform`; that is why the unchecked Sendable is sound.
private struct UncheckedWork<A, B>: @unchecked Sendable {
    let first: () throws -> A
    let second: () throws -> B
    let results: PairSlots<A, B>
    func run(_ k: Int) {
        if k == 0 { results.first = Result { try first() } } else { results.second = Result { try second() } }
    }
}
