import NixFormats
import VouchTrace

/// A user's trust policy: which builders' traces count, and how many must agree per build step.
///
/// Every step of a closure must satisfy ``rule`` on its own evidence (counted signers of its
/// traces). ``legacyKeys`` (plain narinfo signatures) are an alternative at the top level only:
/// a step whose output a legacy key signed is accepted without traces, and its closure ends there.
/// Policies are monotone: more counted signers never turn a pass into a fail.
public struct Policy: Sendable {
    /// A threshold tree over named keys.
    public indirect enum Rule: Sendable, Hashable, CustomStringConvertible {
        case key(String)
        case threshold(Int, [Rule])

        public func isSatisfied(by signers: Set<String>) -> Bool {
            switch self {
            case .key(let name): signers.contains(name)
            case .threshold(let k, let rules):
                // Stops at the k-th satisfied rule.
                k <= 0 || rules.withUnsafeBufferPointer { rules in
                    var met = 0
                    for r in rules.indices where rules[r].isSatisfied(by: signers) {
                        met += 1
                        if met == k { return true }
                    }
                    return false
                }
            }
        }

        public var keyNames: Set<String> {
            switch self {
            case .key(let name): [name]
            case .threshold(_, let rules): rules.reduce(into: Set<String>()) { $0.formUnion($1.keyNames) }
            }
        }

        public var description: String {
            switch self {
            case .key(let name): name
            case .threshold(let k, let rules): "\(k) of (\(rules.map(\.description).joined(separator: ", ")))"
            }
        }
    }

    /// When a key's trace counts.
    public struct Criteria: Sendable, Hashable {
        /// The trace must claim the signer ran the build itself.
        public var mustHaveBuilt = true
        /// Allowed `system`s (nil: any).
        public var systems: Set<String>?
        /// RFC 3339 UTC bounds on the trace's `finishedOn` (inclusive); a trace without a time
        /// does not count while either bound is set.
        public var notBefore: String?
        public var notAfter: String?
        /// Attestation type the trace must carry.
        public var attestation: String?
        public init() {}
    }

    public struct Key: Sendable, Hashable {
        /// The policy's name for the key (what rules refer to).
        public var name: String
        public var publicKey: NixPublicKey
        public var criteria: Criteria
    }

    public var keys: [String: Key]
    public var rule: Rule
    public var legacyKeys: [NixPublicKey]
    /// Extra rule for fixed-output steps; nil: accepted by their declared hash alone.
    public var fixedOutputRule: Rule?

    public init(keys: [String: Key], rule: Rule, legacyKeys: [NixPublicKey] = [], fixedOutputRule: Rule? = nil) {
        self.keys = keys
        self.rule = rule
        self.legacyKeys = legacyKeys
        self.fixedOutputRule = fixedOutputRule
    }

    /// The policy name under which `trace` counts, if its builder key is in the policy and the
    /// trace meets that key's criteria; otherwise why not.
    public func countedSigner(of trace: BuildTrace) -> Result<String, PolicyRejection> {
        guard let key = keys.values.first(where: { $0.publicKey == trace.builderKey }) else {
            return .failure(.init(reason: "builder key '\(trace.builderKey.name)' is not in the policy"))
        }
        let c = key.criteria
        if c.mustHaveBuilt && !trace.builtBySigner { return .failure(.init(reason: "\(key.name) does not claim to have built it")) }
        if let systems = c.systems, !systems.contains(trace.system) { return .failure(.init(reason: "\(key.name) is not trusted for system \(trace.system)")) }
        if c.notBefore != nil || c.notAfter != nil {
            guard let time = trace.finishedOn else { return .failure(.init(reason: "\(key.name)'s trace has no time, and the key has a validity window")) }
            if let nb = c.notBefore, time < nb { return .failure(.init(reason: "\(key.name)'s trace (\(time)) is before its validity window (\(nb))")) }
            if let na = c.notAfter, time > na { return .failure(.init(reason: "\(key.name)'s trace (\(time)) is after its validity window (\(na))")) }
        }
        if let type = c.attestation, !trace.attestations.contains(where: { $0.type == type }) {
            return .failure(.init(reason: "\(key.name)'s trace lacks the required \(type) attestation"))
        }
        return .success(key.name)
    }

    /// The policy name under which a laut trace signed by `key` counts for a derivation of `system`.
    /// laut signs in the post-build hook, so it claims the build; it carries no time and no
    /// attestation, so a key with a validity window or a required attestation does not count it.
    public func countedLautSigner(key signer: NixPublicKey, system: String) -> Result<String, PolicyRejection> {
        guard let key = keys.values.first(where: { $0.publicKey == signer }) else {
            return .failure(.init(reason: "laut trace key '\(signer.name)' is not in the policy"))
        }
        let c = key.criteria
        if let systems = c.systems, !systems.contains(system) { return .failure(.init(reason: "\(key.name) is not trusted for system \(system)")) }
        if c.notBefore != nil || c.notAfter != nil {
            return .failure(.init(reason: "\(key.name)'s laut trace has no time, and the key has a validity window"))
        }
        if let type = c.attestation { return .failure(.init(reason: "\(key.name)'s laut trace lacks the required \(type) attestation")) }
        return .success(key.name)
    }

    /// Trusted public keys for signature checks.
    public var publicKeys: [NixPublicKey] { keys.values.map(\.publicKey) }
}

public struct PolicyRejection: Error, Sendable, Hashable {
    public let reason: String
}

/// A policy file that cannot be used.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let source: String
    public let reason: String
    public var description: String { "\(source): \(reason)" }
}

extension Policy {
    /// Reads a policy file (format: docs/policy.md).
    public init(toml text: String, source: String) throws(PolicyError) {
        let root: JSONValue
        do throws(PolicyTOML.ParseError) { root = try PolicyTOML.parse(text) } catch { throw PolicyError(source: source, reason: error.description) }
        func fail(_ reason: String) -> PolicyError { PolicyError(source: source, reason: reason) }
        for key in root.object!.keys where !["keys", "trust", "legacy", "fixed-output"].contains(key) {
            throw fail("unknown section '\(key)'")
        }
        guard let keyTable = root["keys"]?.object, !keyTable.isEmpty else { throw fail("[keys] must name at least one key") }
        var keys: [String: Key] = [:]
        for (name, value) in keyTable {
            let spec: [String: JSONValue]
            if let text = value.string { spec = ["key": .string(text)] } else if let o = value.object { spec = o } else {
                throw fail("keys.\(name) must be a public key string or a table")
            }
            for field in spec.keys where !["key", "must-have-built", "systems", "not-before", "not-after", "attestation"].contains(field) {
                throw fail("keys.\(name): unknown field '\(field)'")
            }
            guard let keyText = spec["key"]?.string else { throw fail("keys.\(name).key must be a Nix public key 'name:base64'") }
            let publicKey: NixPublicKey
            do throws(KeyError) { publicKey = try NixPublicKey(parsing: keyText, source: "keys.\(name)") } catch { throw fail(error.description) }
            var criteria = Criteria()
            if let built = spec["must-have-built"] {
                guard let b = built.bool else { throw fail("keys.\(name).must-have-built must be true or false") }
                criteria.mustHaveBuilt = b
            }
            if let systems = spec["systems"] {
                guard let list = systems.array?.compactMap(\.string), list.count == systems.array?.count else { throw fail("keys.\(name).systems must be a list of strings") }
                criteria.systems = Set(list)
            }
            for (field, path) in [("not-before", \Criteria.notBefore), ("not-after", \Criteria.notAfter)] {
                guard let v = spec[field] else { continue }
                guard let t = v.string, BuildTrace.isTimestamp(t) else { throw fail("keys.\(name).\(field) must be an RFC 3339 UTC time \"YYYY-MM-DDThh:mm:ssZ\"") }
                criteria[keyPath: path] = t
            }
            if let a = spec["attestation"] {
                guard let t = a.string else { throw fail("keys.\(name).attestation must be a string") }
                criteria.attestation = t
            }
            keys[name] = Key(name: name, publicKey: publicKey, criteria: criteria)
        }
        var seenKeys: [NixPublicKey: String] = [:]
        for key in keys.values.sorted(by: { $0.name < $1.name }) {
            if let other = seenKeys[key.publicKey] { throw fail("keys.\(other) and keys.\(key.name) are the same public key; name each key once") }
            seenKeys[key.publicKey] = key.name
        }
        guard let trust = root["trust"] else { throw fail("[trust] is missing") }
        let rule = try Self.rule(trust, at: "trust", keys: keys, source: source)
        var legacy: [NixPublicKey] = []
        if let table = root["legacy"] {
            for field in table.object?.keys ?? [:].keys where field != "keys" { throw fail("legacy: unknown field '\(field)'") }
            guard let list = table["keys"]?.array else { throw fail("legacy.keys must be a list of Nix public keys") }
            for item in list {
                guard let text = item.string else { throw fail("legacy.keys must be a list of Nix public keys") }
                do throws(KeyError) { legacy.append(try NixPublicKey(parsing: text, source: "legacy.keys")) } catch { throw fail(error.description) }
            }
        }
        var fixed: Rule?
        if let table = root["fixed-output"] {
            for field in table.object?.keys ?? [:].keys where field != "vouched-by" { throw fail("fixed-output: unknown field '\(field)'") }
            if let vouched = table["vouched-by"] { fixed = try Self.rule(vouched, at: "fixed-output.vouched-by", keys: keys, source: source) }
        }
        self.init(keys: keys, rule: rule, legacyKeys: legacy, fixedOutputRule: fixed)
    }

    static func rule(_ value: JSONValue, at path: String, keys: [String: Key], source: String) throws(PolicyError) -> Rule {
        if let name = value.string {
            guard keys[name] != nil else { throw PolicyError(source: source, reason: "\(path): unknown key '\(name)'") }
            return .key(name)
        }
        for field in value.object?.keys ?? [:].keys where field != "threshold" && field != "of" {
            throw PolicyError(source: source, reason: "\(path): unknown field '\(field)'")
        }
        guard let threshold = value["threshold"]?.int, let members = value["of"]?.array else {
            throw PolicyError(source: source, reason: "\(path) must be a key name or { threshold = N, of = [...] }")
        }
        let rules = try members.enumerated().map { (i, m) throws(PolicyError) in try rule(m, at: "\(path).of[\(i)]", keys: keys, source: source) }
        guard threshold >= 1, threshold <= rules.count else {
            throw PolicyError(source: source, reason: "\(path).threshold must be between 1 and \(rules.count)")
        }
        return .threshold(Int(threshold), rules)
    }
}
