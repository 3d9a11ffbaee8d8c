import Dispatch
import NixFormats
import VouchTrace

extension Verifier {
    /// Checks each trace's builder signature, spread over all cores in chunks.
    static func checkSignatures(_ indices: [Int], of traces: [SignedTrace], trusting keys: [NixPublicKey]) -> [(Int, Bool)] {
        let results = ResultSlots(count: indices.count)
        let chunk = 64
        let chunks = (indices.count + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(indices.count, (c + 1) * chunk) {
                let signed = traces[indices[i]]
                results.set(i, signed.isSignedByBuilder(trusting: keys))
            }
        }
        return indices.enumerated().map { ($0.element, results.get($0.offset)) }
    }
}

/// Fixed slots written by concurrent workers, each slot by exactly one worker and read only after
/// `concurrentPerform` returns; that happens-before edge is why the unchecked Sendable is sound.
final class ResultSlots: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Bool>
    init(count: Int) { storage = .allocate(capacity: count); storage.initialize(repeating: false) }
    deinit { storage.deallocate() }
    func set(_ i: Int, _ value: Bool) { storage[i] = value }
    func get(_ i: Int) -> Bool { storage[i] }
}
