import NixFormats

extension SQLiteCacheStore {
    // MARK: registered builder keys

    /// Registers `key`. The same key again is `.unchanged`; another key under a registered name is
    /// a conflict (logged, kind "key").
    public func addKey(_ key: NixPublicKey) async throws(StoreError) -> WriteOutcome {
        let text = key.description
        return try await writeTransaction("add key \(key.name)") { connection throws(StoreError) in
            let stored = try connection.statement("SELECT public_key FROM keys WHERE name = ?")
                .firstRow([.text(key.name)]) { row in row.text(0) ?? "" }
            guard let stored else {
                try connection.statement("INSERT INTO keys (name, public_key, added_at) VALUES (?, ?, ?)")
                    .run([.text(key.name), .text(text), .integer(Self.now())])
                return .success(.created)
            }
            guard stored == text else {
                return .failure(try Self.recordConflict(connection, kind: "key", key: key.name,
                                                        detail: "\(stored) is registered under this name, \(text) offered"))
            }
            return .success(.unchanged)
        }
    }

    public func removeKey(named name: String) async throws(StoreError) -> Bool {
        try await connections.write("remove key \(name)") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> Bool in
                try connection.statement("DELETE FROM keys WHERE name = ?").run([.text(name)])
                return connection.changes > 0
            }
        }
    }

    /// Registered keys in registration order.
    public func keys() async throws(StoreError) -> [NixPublicKey] {
        try await connections.read("list keys") { connection throws(StoreError) in
            try connection.statement("SELECT name, public_key FROM keys ORDER BY seq").rows([]) { row throws(StoreError) in
                try Self.publicKey(row.text(1) ?? "", in: "key \(row.text(0) ?? "")")
            }
        }
    }

    // MARK: access tokens

    /// Stores `token`. Adding the identical token again does nothing; a token whose name or secret
    /// digest is already in use by another is a conflict (logged, kind "token"; the digest is never
    /// written to the log). The digest must be 32 bytes (SHA-256).
    public func addToken(_ token: AccessToken) async throws(StoreError) {
        guard token.secretDigest.count == 32 else {
            throw .invalidKey(token.name, reason: "token secret digest must be 32 bytes (SHA-256), got \(token.secretDigest.count)")
        }
        guard !token.name.isEmpty else { throw .invalidKey(token.name, reason: "token name is empty") }
        _ = try await writeTransaction("add token \(token.name)") { connection throws(StoreError) in
            let clashes = try connection.statement("SELECT name, secret_digest FROM tokens WHERE name = ? OR secret_digest = ?")
                .rows([.text(token.name), .blob(token.secretDigest)]) { row in (row.text(0) ?? "", row.blob(1) ?? []) }
            if clashes.count == 1, clashes[0].0 == token.name, clashes[0].1 == token.secretDigest { return .success(.unchanged) }
            if let clash = clashes.first {
                let detail = clash.0 == token.name ? "a token with this name exists" : "the secret is already the secret of token '\(clash.0)'"
                return .failure(try Self.recordConflict(connection, kind: "token", key: token.name, detail: detail))
            }
            try connection.statement("INSERT INTO tokens (name, secret_digest, created_at) VALUES (?, ?, ?)")
                .run([.text(token.name), .blob(token.secretDigest), .integer(token.createdAt)])
            return .success(.created)
        }
    }

    public func revokeToken(named name: String) async throws(StoreError) -> Bool {
        try await connections.write("revoke token \(name)") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> Bool in
                try connection.statement("DELETE FROM tokens WHERE name = ?").run([.text(name)])
                return connection.changes > 0
            }
        }
    }

    /// Tokens in creation order.
    public func tokens() async throws(StoreError) -> [AccessToken] {
        try await connections.read("list tokens") { connection throws(StoreError) in
            try connection.statement("SELECT name, secret_digest, created_at FROM tokens ORDER BY seq").rows([]) { row in
                AccessToken(name: row.text(0) ?? "", secretDigest: row.blob(1) ?? [], createdAt: row.int64(2))
            }
        }
    }

    /// The token whose secret hashes to `secretDigest` (one indexed lookup).
    public func token(secretDigest: [UInt8]) async throws(StoreError) -> AccessToken? {
        try await connections.read("token lookup") { connection throws(StoreError) in
            try connection.statement("SELECT name, secret_digest, created_at FROM tokens WHERE secret_digest = ?")
                .firstRow([.blob(secretDigest)]) { row in
                    AccessToken(name: row.text(0) ?? "", secretDigest: row.blob(1) ?? [], createdAt: row.int64(2))
                }
        }
    }
}
