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
