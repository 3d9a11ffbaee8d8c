import NixFormats
import VouchTrace

/// Evidence looked up by the derivation each entry names. Immutable, so the steps of one level
/// read it from several threads.
struct EvidenceIndex: @unchecked Sendable {
    let evidence: Evidence
    let policy: Policy
    /// Vouch traces by the absolute path of the derivation they name.
    private(set) var byDerivation: [String: [Int]] = [:]
    /// laut traces by the hash part of the resolved derivation they name.
    private(set) var lautByHash: [String: [Int]] = [:]
    let narinfoByPath: [StorePath: [NARInfo]]
    private let trustedKeys: [NixPublicKey]
    /// The policy keys prepared for many verifications (keys that do not decode verify nothing).
    private let preparedKeys: [(key: NixPublicKey, prepared: Ed25519VerifyingKey)]

    init(_ evidence: Evidence, policy: Policy) {
        self.evidence = evidence
        self.policy = policy
        trustedKeys = policy.publicKeys
        preparedKeys = trustedKeys.compactMap { key in Ed25519VerifyingKey(key).map { (key, $0) } }
        // By index: iterating the traces would copy (retain) every field of each.
        byDerivation.reserveCapacity(evidence.traces.count)
        for i in evidence.traces.indices { byDerivation[evidence.traces[i].trace.derivation.absolute, default: []].append(i) }
        for i in evidence.lautTraces.indices { lautByHash[evidence.lautTraces[i].resolvedDerivationHash, default: []].append(i) }
        var narinfos: [StorePath: [NARInfo]] = [:]
        for info in evidence.narinfos { narinfos[info.storePath, default: []].append(info) }
        narinfoByPath = narinfos
    }

    /// `body` applied to Vouch trace `index` read in place: a copy would retain each of its many fields.
    func withTrace<R>(_ index: Int, _ body: (borrowing BuildTrace) throws -> R) rethrows -> R {
        try evidence.traces.withUnsafeBufferPointer { try body(($0.baseAddress! + index).pointee.trace) }
    }

    /// The name in the builder key of Vouch trace `index`.
    func builderName(_ index: Int) -> String {
        evidence.traces.withUnsafeBufferPointer { ($0.baseAddress! + index).pointee.trace.builderKey.name }
    }

    /// The policy name a Vouch trace counts under (its signature aside), or why it does not count.
    func countedSigner(_ index: Int) -> Result<String, PolicyRejection> {
        withTrace(index) { policy.countedSigner(of: $0) }
    }

    /// True when the trace's builder is a policy key and one of the envelope's signatures verifies
    /// under it (``SignedTrace/isSignedByBuilder(trusting:)`` with prepared keys).
    func isSignedByBuilder(_ index: Int) -> Bool {
        // Fields read in place: a copy of the whole trace would retain each of its many fields.
        evidence.traces.withUnsafeBufferPointer { traces in
            let prepared = traces.baseAddress! + index
            guard let key = preparedKeys.first(where: { $0.key == prepared.pointee.trace.builderKey })?.prepared else { return false }
            return prepared.pointee.isSignedByBuilder(key)
        }
    }

    /// The policy key whose signature on a laut trace verifies (keys hinted by `kid` first).
    func lautSigner(_ index: Int) -> NixPublicKey? {
        evidence.lautTraces[index].signer(trusting: trustedKeys)
    }
}
