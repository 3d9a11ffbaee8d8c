import NixFormats
import VouchTrace

/// Evidence looked up by the derivation each entry names, with per-entry facts computed once.
struct EvidenceIndex {
    let evidence: Evidence
    let policy: Policy
    /// Vouch traces by the absolute path of the derivation they name.
    private(set) var byDerivation: [String: [Int]] = [:]
    /// laut traces by the hash part of the resolved derivation they name.
    private(set) var lautByHash: [String: [Int]] = [:]
    private var counted: [Result<String, PolicyRejection>?]
    private var lautSigners: [NixPublicKey??]
    let narinfoByPath: [StorePath: [NARInfo]]

    init(_ evidence: Evidence, policy: Policy) {
        self.evidence = evidence
        self.policy = policy
        for (index, signed) in evidence.traces.enumerated() { byDerivation[signed.trace.derivation.absolute, default: []].append(index) }
        for (index, laut) in evidence.lautTraces.enumerated() { lautByHash[laut.resolvedDerivationHash, default: []].append(index) }
        counted = Array(repeating: nil, count: evidence.traces.count)
        lautSigners = Array(repeating: nil, count: evidence.lautTraces.count)
        var narinfos: [StorePath: [NARInfo]] = [:]
        for info in evidence.narinfos { narinfos[info.storePath, default: []].append(info) }
        narinfoByPath = narinfos
    }

    /// The policy name a Vouch trace counts under (its signature aside), or why it does not count.
    mutating func countedSigner(_ index: Int) -> Result<String, PolicyRejection> {
        if let known = counted[index] { return known }
        let result = policy.countedSigner(of: evidence.traces[index].trace)
        counted[index] = result
        return result
    }

    /// The policy key whose signature on a laut trace verifies (checked once, keys hinted by `kid` first).
    mutating func lautSigner(_ index: Int) -> NixPublicKey? {
        if let known = lautSigners[index] { return known }
        let signer = evidence.lautTraces[index].signer(trusting: policy.publicKeys)
        lautSigners[index] = .some(signer)
        return signer
    }
}
