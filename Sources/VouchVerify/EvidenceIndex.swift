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

    init(_ evidence: Evidence, policy: Policy) {
        self.evidence = evidence
        self.policy = policy
        trustedKeys = policy.publicKeys
        for (index, signed) in evidence.traces.enumerated() { byDerivation[signed.trace.derivation.absolute, default: []].append(index) }
        for (index, laut) in evidence.lautTraces.enumerated() { lautByHash[laut.resolvedDerivationHash, default: []].append(index) }
        var narinfos: [StorePath: [NARInfo]] = [:]
        for info in evidence.narinfos { narinfos[info.storePath, default: []].append(info) }
        narinfoByPath = narinfos
    }

    /// The policy name a Vouch trace counts under (its signature aside), or why it does not count.
    func countedSigner(_ index: Int) -> Result<String, PolicyRejection> {
        policy.countedSigner(of: evidence.traces[index].trace)
    }

    /// True when the trace's signature by its builder verifies under a policy key.
    func isSignedByBuilder(_ index: Int) -> Bool {
        evidence.traces[index].isSignedByBuilder(trusting: trustedKeys)
    }

    /// The policy key whose signature on a laut trace verifies (keys hinted by `kid` first).
    func lautSigner(_ index: Int) -> NixPublicKey? {
        evidence.lautTraces[index].signer(trusting: trustedKeys)
    }
}
