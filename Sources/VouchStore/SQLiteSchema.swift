import CSQLite

/// The database schema and its migrations, tracked by `PRAGMA user_version`.
///
/// Every migration runs in one transaction together with its `user_version` bump, so a crash
/// leaves the database at either the old or the new version. A database whose version is newer
/// than this code knows is refused rather than guessed at.
enum SQLiteSchema {
    /// `migrations[i]` upgrades version `i` to `i + 1`.
    static let migrations: [String] = [version1]

    static var currentVersion: Int64 { Int64(migrations.count) }

    /// Brings the database on `connection` (the writer) up to ``currentVersion``.
    static func migrate(_ connection: SQLiteConnection) throws(StoreError) {
        while true {
            let applied = try connection.transaction { () throws(StoreError) -> Bool in
                let version = try connection.integer("PRAGMA user_version")
                guard version <= currentVersion else {
                    throw .database(code: SQLITE_ERROR,
                                    message: "schema version \(version) is newer than this Vouch supports (\(currentVersion))",
                                    statement: "PRAGMA user_version")
                }
                guard version < currentVersion else { return false }
                try connection.execute(migrations[Int(version)])
                try connection.execute("PRAGMA user_version = \(version + 1)")
                return true
            }
            if !applied { return }
        }
    }

    /// Version 1.
    ///
    /// - `narinfos.text` is the canonical narinfo text (``NARInfo/text``, signatures included and
    ///   sorted); the other columns are keys taken from it.
    /// - `realisations.json` is the canonical `.doi` JSON (signatures included and sorted).
    /// - `traces` rowids give upload order; `trace_outputs` indexes the output paths.
    /// - `keys.public_key` and `traces.signer_key` are `name:base64`.
    static let version1 = """
        CREATE TABLE narinfos (
            hash_part TEXT PRIMARY KEY NOT NULL,
            store_dir TEXT NOT NULL,
            text TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE realisations (
            id TEXT PRIMARY KEY NOT NULL,
            store_dir TEXT NOT NULL,
            json TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE traces (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            bytes BLOB NOT NULL,
            derivation TEXT,
            built_hash_part TEXT NOT NULL,
            resolved_derivation TEXT,
            signer_name TEXT NOT NULL,
            signer_key TEXT NOT NULL,
            received_at INTEGER NOT NULL
        );
        CREATE INDEX traces_by_derivation ON traces(derivation) WHERE derivation IS NOT NULL;
        CREATE INDEX traces_by_resolved_derivation ON traces(resolved_derivation) WHERE resolved_derivation IS NOT NULL;
        CREATE INDEX traces_by_built_hash_part ON traces(built_hash_part);
        CREATE INDEX traces_by_signer_name ON traces(signer_name);
        CREATE INDEX traces_by_signer_key ON traces(signer_key);

        CREATE TABLE trace_outputs (
            trace INTEGER NOT NULL REFERENCES traces(seq) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (trace, position)
        ) WITHOUT ROWID;
        CREATE INDEX trace_outputs_by_path ON trace_outputs(path, trace);

        CREATE TABLE keys (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            public_key TEXT NOT NULL,
            added_at INTEGER NOT NULL
        );
        CREATE INDEX keys_by_public_key ON keys(public_key);

        CREATE TABLE tokens (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            secret_digest BLOB NOT NULL UNIQUE,
            created_at INTEGER NOT NULL
        );

        CREATE TABLE conflicts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            detail TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        """
}
