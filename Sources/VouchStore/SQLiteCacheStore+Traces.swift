import NixFormats

extension SQLiteCacheStore {
    /// Stores `trace` unless a trace with the same id is stored already (then `.unchanged`; the
    /// first upload's `receivedAt` is kept). Refuses a trace whose `id` is not the lowercase hex
    /// SHA-256 of its bytes.
    public func putTrace(_ trace: StoredTrace) async throws(StoreError) -> WriteOutcome {
        let digest = Base16.encode(HashAlgorithm.sha256.digest(trace.bytes).bytes)
        guard digest == trace.id else {
            throw .invalidKey(trace.id, reason: "trace id must be the hex SHA-256 of its bytes (\(digest))")
        }
        return try await writeTransaction("put trace \(trace.id)") { connection throws(StoreError) in
            let inserted = try connection.statement("""
                INSERT INTO traces (id, format, bytes, derivation, built_hash_part, resolved_derivation, signer_name, signer_key, received_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq
                """).firstRow([
                    .text(trace.id), .text(trace.format.rawValue), .blob(trace.bytes),
                    .optionalText(trace.derivation?.absolute), .text(trace.builtDerivationHashPart),
                    .optionalText(trace.resolvedDerivation?.absolute), .text(trace.signer.name),
                    .text(trace.signer.description), .integer(trace.receivedAt),
                ]) { row in row.int64(0) }
            guard let seq = inserted else { return .success(.unchanged) }
            let insertOutput = try connection.statement("INSERT INTO trace_outputs (trace, position, path) VALUES (?, ?, ?)")
            for (position, output) in trace.outputs.enumerated() {
                try insertOutput.run([.integer(seq), .integer(Int64(position)), .text(output.absolute)])
            }
            return .success(.created)
        }
    }

    /// Matching traces in upload order.
    public func traces(matching query: TraceQuery) async throws(StoreError) -> [StoredTrace] {
        try await traces(matchingAny: [query])
    }

    /// Every trace matching any of `queries`, each once, in upload order, read from one snapshot
    /// on one pool thread (one indexed lookup per query, then one per trace found).
    public func traces(matchingAny queries: [TraceQuery]) async throws(StoreError) -> [StoredTrace] {
        try await connections.read("trace query") { connection throws(StoreError) in
            try connection.statement("BEGIN").run()
            defer { try? connection.statement("COMMIT").run() }
            var sequence = Set<Int64>()
            for query in queries {
                let (sql, value) = Self.sequenceQuery(query)
                for seq in try connection.statement(sql).rows([.text(value)], { row in row.int64(0) }) { sequence.insert(seq) }
            }
            let load = try connection.statement("""
                SELECT id, format, bytes, derivation, built_hash_part, resolved_derivation, signer_key, received_at
                FROM traces WHERE seq = ?
                """)
            let outputs = try connection.statement("SELECT path FROM trace_outputs WHERE trace = ? ORDER BY position")
            var found: [StoredTrace] = []
            for seq in sequence.sorted() {
                guard var trace = try load.firstRow([.integer(seq)], { row throws(StoreError) in try Self.storedTrace(row) }) else { continue }
                trace.outputs = try outputs.rows([.integer(seq)]) { row throws(StoreError) in
                    try Self.storePath(row.text(0) ?? "", in: "trace \(trace.id) output")
                }
                found.append(trace)
            }
            return found
        }
    }

    /// The statement listing the upload sequence numbers of the traces `query` matches, and its parameter.
    private static func sequenceQuery(_ query: TraceQuery) -> (sql: String, value: String) {
        switch query {
        case .derivation(let path): ("SELECT seq FROM traces WHERE derivation = ?1 OR resolved_derivation = ?1", path.absolute)
        case .builtDerivationHashPart(let hashPart): ("SELECT seq FROM traces WHERE built_hash_part = ?", hashPart)
        case .output(let path): ("SELECT trace FROM trace_outputs WHERE path = ?", path.absolute)
        case .signer(let name): ("SELECT seq FROM traces WHERE signer_name = ?", name)
        }
    }

    /// Every key that signed a stored trace, in order of its first trace, with `registered` true
    /// when exactly that key (name and public key) is registered.
    public func signers() async throws(StoreError) -> [SignerSummary] {
        try await connections.read("list signers") { connection throws(StoreError) in
            try connection.statement("""
                SELECT t.signer_key, count(*), k.seq IS NOT NULL
                FROM traces t LEFT JOIN keys k ON k.public_key = t.signer_key
                GROUP BY t.signer_key ORDER BY min(t.seq)
                """).rows([]) { row throws(StoreError) in
                    SignerSummary(key: try Self.publicKey(row.text(0) ?? "", in: "signer of stored traces"),
                                  traceCount: Int(row.int64(1)), registered: row.int64(2) != 0)
                }
        }
    }

    /// A trace row, outputs not yet filled in.
    private static func storedTrace(_ row: SQLiteStatement) throws(StoreError) -> StoredTrace {
        let id = row.text(0) ?? ""
        let what = "trace \(id)"
        guard let format = StoredTrace.Format(rawValue: row.text(1) ?? "") else {
            throw .corrupt(what: what, reason: "unknown format '\(row.text(1) ?? "")'")
        }
        let derivation = try row.text(3).map { text throws(StoreError) in try storePath(text, in: "\(what) derivation") }
        let resolved = try row.text(5).map { text throws(StoreError) in try storePath(text, in: "\(what) resolved derivation") }
        return StoredTrace(id: id, format: format, bytes: row.blob(2) ?? [], derivation: derivation,
                           builtDerivationHashPart: row.text(4) ?? "", resolvedDerivation: resolved, outputs: [],
                           signer: try publicKey(row.text(6) ?? "", in: "\(what) signer"), receivedAt: row.int64(7))
    }

    /// Parses a stored absolute store path, whatever its store directory.
    static func storePath(_ text: String, in what: String) throws(StoreError) -> StorePath {
        guard let slash = text.lastIndex(of: "/") else { throw .corrupt(what: what, reason: "'\(text)' is not an absolute store path") }
        do throws(StorePathError) {
            return try StorePath(absolutePath: text, storeDir: String(text[..<slash]))
        } catch {
            throw .corrupt(what: what, reason: "\(error)")
        }
    }

    static func publicKey(_ text: String, in what: String) throws(StoreError) -> NixPublicKey {
        do throws(KeyError) {
            return try NixPublicKey(parsing: text, source: what)
        } catch {
            throw .corrupt(what: what, reason: "\(error)")
        }
    }
}
