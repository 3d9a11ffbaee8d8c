import CSQLite
import NixFormats

/// Read-only access to a local Nix store database (`/nix/var/nix/db/db.sqlite`, schema of Nix 2.8).
final class NixStoreDB {
    private var db: OpaquePointer?

    /// Opens the database read-only; nil if it is missing or unreadable.
    init?(path: String) {
        guard FileIO.exists(path) else { return nil }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            sqlite3_close(db)
            return nil
        }
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close(db) }

    private func query(_ sql: String, _ parameters: [String], row: (OpaquePointer) -> Void) -> Bool {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else { return false }
        defer { sqlite3_finalize(statement) }
        // SQLITE_TRANSIENT: SQLite copies the bound text.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, parameter) in parameters.enumerated() {
            sqlite3_bind_text(statement, Int32(index + 1), parameter, -1, transient)
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_ROW { row(statement); continue }
            return rc == SQLITE_DONE
        }
    }

    private static func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        guard let c = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: c)
    }

    /// NarHash and NarSize Nix registered for `path`.
    func narInfo(path: String) -> (hash: NixHash, size: UInt64)? {
        var result: (NixHash, UInt64)?
        _ = query("SELECT hash, narSize FROM ValidPaths WHERE path = ?", [path]) { s in
            if let text = Self.text(s, 0), let hash = try? NixHash(parsing: text), hash.algorithm == .sha256 {
                result = (hash, UInt64(sqlite3_column_int64(s, 1)))
            }
        }
        return result
    }

    /// The output path a realisation id (`sha256:<hex>`, output name) maps to.
    func realisation(hashModulo: String, output: String) -> String? {
        var result: String?
        _ = query("""
            SELECT v.path FROM Realisations r JOIN ValidPaths v ON r.outputPath = v.id
            WHERE r.drvPath = ? AND r.outputName = ?
            """, [hashModulo, output]) { s in result = Self.text(s, 0) }
        return result
    }

    /// Valid paths whose registered deriver is `drvPath`.
    func paths(derivedBy drvPath: String) -> [String] {
        var result: [String] = []
        _ = query("SELECT path FROM ValidPaths WHERE deriver = ?", [drvPath]) { s in
            if let p = Self.text(s, 0) { result.append(p) }
        }
        return result
    }
}
