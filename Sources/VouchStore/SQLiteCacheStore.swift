#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix
import NixFormats

/// ``CacheStorage`` on one SQLite file (the embedded default backend).
///
/// Durability and concurrency:
/// - WAL journal, `synchronous=FULL`: a write method returns only after its transaction has
///   committed and the WAL is synced. Each write is one `BEGIN IMMEDIATE` transaction, including
///   the conflict-log row of a refused write.
/// - One writer connection under a lock; reader connections read WAL snapshots without waiting
///   for the writer. Several processes may open the same file (writers then take turns).
/// - Every SQLite call runs on `threadPool`, never on Swift's cooperative pool; an `async` method
///   suspends its caller instead of blocking a thread of that pool.
///
/// Stored form: the canonical narinfo text and `.doi` JSON (signatures sorted), plus the key
/// columns taken from them; rows that no longer parse surface as ``StoreError/corrupt(what:reason:)``.
public final class SQLiteCacheStore: CacheStorage {
    /// Path of the database file.
    public let path: String
    let connections: SQLiteConnections

    /// Opens (creating if missing) the database at `path` and migrates its schema.
    /// Blocks the calling thread; call it at start-up, not from a request handler.
    public init(path: String, threadPool: NIOThreadPool = .singleton) throws(StoreError) {
        self.path = path
        connections = try SQLiteConnections(path: path, threadPool: threadPool)
        try connections.writeNow("migrate \(path)") { connection throws(StoreError) in
            try SQLiteSchema.migrate(connection)
        }
    }

    /// Closes every connection (waiting for a write in progress). Later calls throw
    /// ``StoreError/database(code:message:statement:)`` with `SQLITE_MISUSE`.
    /// Not needed for durability: everything a method returned from is already committed.
    public func close() {
        connections.close()
    }

    /// Runs `body` as one write transaction; a `.failure` (a refused write whose conflict row
    /// `body` has inserted) is committed too, then thrown.
    func writeTransaction(_ what: String, _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> Result<WriteOutcome, StoreError>)
        async throws(StoreError) -> WriteOutcome {
        let result = try await connections.write(what) { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in try body(connection) }
        }
        return try result.get()
    }

    /// Seconds since 1970.
    static func now() -> Int64 { Int64(time(nil)) }

    // MARK: narinfo

    /// One primary-key lookup on a pool thread; the text is parsed back on the calling task, so
    /// pool threads spend their time on SQLite only.
    public func narInfo(hashPart: String) async throws(StoreError) -> NARInfo? {
        let row = try await connections.read("narinfo lookup") { connection throws(StoreError) in
            try Self.narInfoRow(connection, hashPart: hashPart)
        }
        return try row.map { row throws(StoreError) in try Self.parseNARInfo(row, hashPart: hashPart) }
    }

    /// The stored text as written by ``putNARInfo(_:)`` (which checked that it parses back), without
    /// parsing it again.
    public func narInfoText(hashPart: String) async throws(StoreError) -> String? {
        try await connections.read("narinfo lookup") { connection throws(StoreError) in
            try Self.narInfoRow(connection, hashPart: hashPart)?.text
        }
    }

    public func putNARInfo(_ info: NARInfo) async throws(StoreError) -> WriteOutcome {
        let hashPart = info.storePath.hashPart
        var canonical = info
        canonical.signatures = Set(info.signatures).sorted()
        let text = canonical.text
        let reparsed: NARInfo
        do throws(NARInfoError) {
            reparsed = try NARInfo(parsing: text, source: "narinfo \(hashPart)", storeDir: info.storePath.storeDir)
        } catch {
            throw .invalidKey(hashPart, reason: "narinfo cannot be stored as text: \(error)")
        }
        guard reparsed.text == text else { throw .invalidKey(hashPart, reason: "narinfo text does not round-trip") }
        return try await writeTransaction("put narinfo \(hashPart)") { [canonical] connection throws(StoreError) in
            guard let stored = try Self.loadNARInfo(connection, hashPart: hashPart) else {
                try connection.statement("INSERT INTO narinfos (hash_part, store_dir, text) VALUES (?, ?, ?)")
                    .run([.text(hashPart), .text(info.storePath.storeDir), .text(text)])
                return .success(.created)
            }
            let differences = Self.differences(stored: stored, new: canonical)
            guard differences.isEmpty else {
                return .failure(try Self.recordConflict(connection, kind: "narinfo", key: hashPart, detail: differences.joined(separator: "; ")))
            }
            let (merged, added) = Self.merge(stored.signatures, canonical.signatures)
            guard added > 0 else { return .success(.unchanged) }
            var updated = stored
            updated.signatures = merged
            try connection.statement("UPDATE narinfos SET text = ? WHERE hash_part = ?").run([.text(updated.text), .text(hashPart)])
            return .success(.merged(added: added))
        }
    }

    public func narInfoCount() async throws(StoreError) -> Int {
        try await connections.read("count narinfos") { connection throws(StoreError) in
            Int(try connection.integer("SELECT count(*) FROM narinfos"))
        }
    }

    static func loadNARInfo(_ connection: SQLiteConnection, hashPart: String) throws(StoreError) -> NARInfo? {
        try narInfoRow(connection, hashPart: hashPart).map { row throws(StoreError) in try parseNARInfo(row, hashPart: hashPart) }
    }

    private static func narInfoRow(_ connection: SQLiteConnection, hashPart: String) throws(StoreError) -> (storeDir: String, text: String)? {
        try connection.statement("SELECT store_dir, text FROM narinfos WHERE hash_part = ?")
            .firstRow([.text(hashPart)]) { row in (row.text(0) ?? "", row.text(1) ?? "") }
    }

    private static func parseNARInfo(_ row: (storeDir: String, text: String), hashPart: String) throws(StoreError) -> NARInfo {
        do throws(NARInfoError) {
            return try NARInfo(parsing: row.text, source: "narinfo \(hashPart)", storeDir: row.storeDir)
        } catch {
            throw .corrupt(what: "narinfo \(hashPart)", reason: "\(error)")
        }
    }

    /// The fields on which a re-upload must agree with the stored narinfo (everything a signature
    /// covers, plus where and how the NAR is stored), described for the conflict log.
    static func differences(stored: NARInfo, new: NARInfo) -> [String] {
        var result: [String] = []
        func compare(_ field: String, _ old: String?, _ new: String?) {
            if old != new { result.append("\(field) \(old ?? "(none)") stored, \(new ?? "(none)") offered") }
        }
        compare("StorePath", stored.storePath.absolute, new.storePath.absolute)
        compare("URL", stored.url, new.url)
        // Nix reads a missing Compression as bzip2.
        compare("Compression", stored.compression ?? "bzip2", new.compression ?? "bzip2")
        compare("FileHash", stored.fileHash?.encoded(.nix32), new.fileHash?.encoded(.nix32))
        compare("FileSize", stored.fileSize.map(String.init), new.fileSize.map(String.init))
        compare("NarHash", stored.narHash.encoded(.nix32), new.narHash.encoded(.nix32))
        compare("NarSize", String(stored.narSize), String(new.narSize))
        compare("References", Self.referenceList(stored.references), Self.referenceList(new.references))
        compare("CA", stored.contentAddress?.description, new.contentAddress?.description)
        return result
    }

    private static func referenceList(_ references: [StorePath]) -> String {
        "[" + Set(references.map(\.baseName)).sorted().joined(separator: " ") + "]"
    }

    /// The sorted union of two signature sets and how many of `new` were not in `stored`.
    static func merge(_ stored: [NixSignature], _ new: [NixSignature]) -> (merged: [NixSignature], added: Int) {
        let old = Set(stored)
        let union = old.union(new)
        return (union.sorted(), union.count - old.count)
    }

    // MARK: realisations

    public func realisation(id: DrvOutputID) async throws(StoreError) -> Realisation? {
        let key = id.description
        let row = try await connections.read("realisation lookup") { connection throws(StoreError) in
            try Self.realisationRow(connection, id: key)
        }
        return try row.map { row throws(StoreError) in try Self.parseRealisation(row, id: key) }
    }

    public func putRealisation(_ realisation: Realisation) async throws(StoreError) -> WriteOutcome {
        let key = realisation.id.description
        let storeDir = realisation.outPath.storeDir
        var canonical = realisation
        canonical.signatures = Set(realisation.signatures).sorted()
        let json = canonical.json
        do throws(KeyError) {
            let reparsed = try Realisation(parsing: Array(json.utf8), source: "realisation \(key)", storeDir: storeDir)
            guard reparsed.json == json else { throw KeyError(source: "realisation \(key)", "JSON does not round-trip") }
        } catch {
            throw .invalidKey(key, reason: "realisation cannot be stored as JSON: \(error)")
        }
        return try await writeTransaction("put realisation \(key)") { [canonical] connection throws(StoreError) in
            guard let stored = try Self.loadRealisation(connection, id: key) else {
                try connection.statement("INSERT INTO realisations (id, store_dir, json) VALUES (?, ?, ?)")
                    .run([.text(key), .text(storeDir), .text(json)])
                return .success(.created)
            }
            var differences: [String] = []
            if stored.outPath != canonical.outPath {
                differences.append("outPath \(stored.outPath.absolute) stored, \(canonical.outPath.absolute) offered")
            }
            if stored.dependentRealisations != canonical.dependentRealisations {
                func list(_ deps: [DrvOutputID: StorePath]) -> String {
                    "{" + deps.keys.sorted().map { "\($0)=\(deps[$0]!.baseName)" }.joined(separator: ", ") + "}"
                }
                differences.append("dependentRealisations \(list(stored.dependentRealisations)) stored, \(list(canonical.dependentRealisations)) offered")
            }
            guard differences.isEmpty else {
                return .failure(try Self.recordConflict(connection, kind: "realisation", key: key, detail: differences.joined(separator: "; ")))
            }
            let (merged, added) = Self.merge(stored.signatures, canonical.signatures)
            guard added > 0 else { return .success(.unchanged) }
            var updated = stored
            updated.signatures = merged
            try connection.statement("UPDATE realisations SET json = ? WHERE id = ?").run([.text(updated.json), .text(key)])
            return .success(.merged(added: added))
        }
    }

    static func loadRealisation(_ connection: SQLiteConnection, id: String) throws(StoreError) -> Realisation? {
        try realisationRow(connection, id: id).map { row throws(StoreError) in try parseRealisation(row, id: id) }
    }

    private static func realisationRow(_ connection: SQLiteConnection, id: String) throws(StoreError) -> (storeDir: String, json: String)? {
        try connection.statement("SELECT store_dir, json FROM realisations WHERE id = ?")
            .firstRow([.text(id)]) { row in (row.text(0) ?? "", row.text(1) ?? "") }
    }

    private static func parseRealisation(_ row: (storeDir: String, json: String), id: String) throws(StoreError) -> Realisation {
        do throws(KeyError) {
            return try Realisation(parsing: Array(row.json.utf8), source: "realisation \(id)", storeDir: row.storeDir)
        } catch {
            throw .corrupt(what: "realisation \(id)", reason: "\(error)")
        }
    }

    // MARK: conflicts

    /// Inserts a conflict-log row (inside the caller's transaction) and returns the error to throw.
    static func recordConflict(_ connection: SQLiteConnection, kind: String, key: String, detail: String) throws(StoreError) -> StoreError {
        try connection.statement("INSERT INTO conflicts (kind, key, detail, at) VALUES (?, ?, ?, ?)")
            .run([.text(kind), .text(key), .text(detail), .integer(now())])
        return .conflict(kind: kind, key: key, detail: detail)
    }

    /// The most recent `limit` conflicts, newest first.
    public func conflicts(limit: Int) async throws(StoreError) -> [ConflictRecord] {
        try await connections.read("list conflicts") { connection throws(StoreError) in
            try connection.statement("SELECT kind, key, detail, at FROM conflicts ORDER BY seq DESC LIMIT ?")
                .rows([.integer(Int64(max(0, limit)))]) { row in
                    ConflictRecord(kind: row.text(0) ?? "", key: row.text(1) ?? "", detail: row.text(2) ?? "", at: row.int64(3))
                }
        }
    }
}
