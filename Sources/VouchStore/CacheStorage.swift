import NixFormats
import VouchTrace

/// What happened to a write.
public enum WriteOutcome: Sendable, Hashable {
    /// The item did not exist and is now durably stored.
    case created
    /// The item existed; new signatures were merged in and durably stored.
    case merged(added: Int)
    /// The item existed with the same content and signatures; nothing changed.
    case unchanged
}

/// Metadata storage of a Vouch cache: narinfos, realisations, build traces, registered builder keys,
/// access tokens and the conflict log.
///
/// Invariants every backend keeps:
/// - A method that returns normally has made its write durable (committed and synced); a crash at
///   any moment leaves either the old or the new state visible, never a partial one.
/// - Stored items are never overwritten: a write that disagrees with what is stored on anything
///   but the signature set throws ``StoreError/conflict(kind:key:detail:)`` and records the conflict.
/// - Signature sets only grow (union, sorted, no duplicates).
public protocol CacheStorage: Sendable {
    // MARK: narinfo
    func narInfo(hashPart: String) async throws(StoreError) -> NARInfo?
    /// The stored narinfo as text (``NARInfo/text``: canonical, every signature, sorted), for
    /// serving it unchanged. ``SQLiteCacheStore`` skips parsing; the default renders ``narInfo(hashPart:)``.
    func narInfoText(hashPart: String) async throws(StoreError) -> String?
    /// Stores `info` or merges its signatures into the stored one. Conflict: a differing NarHash,
    /// NarSize, References, CA, URL, Compression, FileHash or FileSize.
    func putNARInfo(_ info: NARInfo) async throws(StoreError) -> WriteOutcome
    func narInfoCount() async throws(StoreError) -> Int

    // MARK: realisations (Nix 2.8 `.doi`)
    func realisation(id: DrvOutputID) async throws(StoreError) -> Realisation?
    /// Conflict: a differing out path or dependent realisations.
    func putRealisation(_ realisation: Realisation) async throws(StoreError) -> WriteOutcome

    // MARK: build traces
    /// Stores a trace that the caller has already parsed and checked. Idempotent on `trace.id`.
    func putTrace(_ trace: StoredTrace) async throws(StoreError) -> WriteOutcome
    func traces(matching query: TraceQuery) async throws(StoreError) -> [StoredTrace]
    /// Every trace matching at least one of `queries`, each once (for `POST /api/v1/traces/query`).
    /// ``SQLiteCacheStore`` answers in upload order with one read; the default implementation asks
    /// ``traces(matching:)`` once per query and keeps the order of first match.
    func traces(matchingAny queries: [TraceQuery]) async throws(StoreError) -> [StoredTrace]
    /// Every key that signed at least one stored trace, with counts.
    func signers() async throws(StoreError) -> [SignerSummary]

    // MARK: registered builder keys
    /// Conflict: another key already registered under the same name.
    func addKey(_ key: NixPublicKey) async throws(StoreError) -> WriteOutcome
    /// Returns false when no key has that name.
    func removeKey(named name: String) async throws(StoreError) -> Bool
    func keys() async throws(StoreError) -> [NixPublicKey]

    // MARK: access tokens (only a SHA-256 of the secret is stored)
    func addToken(_ token: AccessToken) async throws(StoreError)
    /// Returns false when no token has that name.
    func revokeToken(named name: String) async throws(StoreError) -> Bool
    func tokens() async throws(StoreError) -> [AccessToken]
    func token(secretDigest: [UInt8]) async throws(StoreError) -> AccessToken?

    // MARK: conflicts
    func conflicts(limit: Int) async throws(StoreError) -> [ConflictRecord]
}

extension CacheStorage {
    public func narInfoText(hashPart: String) async throws(StoreError) -> String? {
        try await narInfo(hashPart: hashPart)?.text
    }

    public func traces(matchingAny queries: [TraceQuery]) async throws(StoreError) -> [StoredTrace] {
        var seen = Set<String>()
        var found: [StoredTrace] = []
        for query in queries {
            for trace in try await traces(matching: query) where seen.insert(trace.id).inserted { found.append(trace) }
        }
        return found
    }
}

/// Which traces to return. Store paths match on the full path.
public enum TraceQuery: Sendable, Hashable {
    /// Traces whose unresolved or resolved derivation is this path.
    case derivation(StorePath)
    /// Traces whose built (resolved, else unresolved) derivation has this hash part (laut lookups).
    case builtDerivationHashPart(String)
    /// Traces that name this path among their outputs.
    case output(StorePath)
    /// Traces signed by a key with this name.
    case signer(String)
}

/// A build trace as stored: the exact bytes received plus the indexed facts taken from them.
public struct StoredTrace: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable {
        /// DSSE envelope JSON (docs/trace-format.md).
        case dsse
        /// laut compact JWS.
        case laut
    }
    /// Lowercase hex SHA-256 of `bytes`.
    public var id: String
    public var format: Format
    /// Exactly the bytes uploaded.
    public var bytes: [UInt8]
    /// Unresolved derivation; nil for laut traces (they name only the resolved one).
    public var derivation: StorePath?
    /// Hash part of the derivation that was built (resolved, else unresolved).
    public var builtDerivationHashPart: String
    public var resolvedDerivation: StorePath?
    public var outputs: [StorePath]
    public var signer: NixPublicKey
    /// Seconds since 1970, when the server received it.
    public var receivedAt: Int64

    public init(id: String, format: Format, bytes: [UInt8], derivation: StorePath?, builtDerivationHashPart: String,
                resolvedDerivation: StorePath?, outputs: [StorePath], signer: NixPublicKey, receivedAt: Int64) {
        self.id = id
        self.format = format
        self.bytes = bytes
        self.derivation = derivation
        self.builtDerivationHashPart = builtDerivationHashPart
        self.resolvedDerivation = resolvedDerivation
        self.outputs = outputs
        self.signer = signer
        self.receivedAt = receivedAt
    }
}

public struct SignerSummary: Sendable, Hashable {
    public var key: NixPublicKey
    public var traceCount: Int
    /// Whether the key is currently registered with the server.
    public var registered: Bool
    public init(key: NixPublicKey, traceCount: Int, registered: Bool) {
        self.key = key
        self.traceCount = traceCount
        self.registered = registered
    }
}

/// An upload credential. The secret itself is shown once, at creation, and never stored.
public struct AccessToken: Sendable, Hashable {
    public var name: String
    /// SHA-256 of the secret's UTF-8 bytes.
    public var secretDigest: [UInt8]
    public var createdAt: Int64
    public init(name: String, secretDigest: [UInt8], createdAt: Int64) {
        self.name = name
        self.secretDigest = secretDigest
        self.createdAt = createdAt
    }
}

/// A refused write, kept for operators.
public struct ConflictRecord: Sendable, Hashable {
    /// "narinfo", "realisation", "key".
    public var kind: String
    /// The stored item's key (hash part, realisation id, key name).
    public var key: String
    public var detail: String
    public var at: Int64
    public init(kind: String, key: String, detail: String, at: Int64) {
        self.kind = kind
        self.key = key
        self.detail = detail
        self.at = at
    }
}
