import CSQLite

/// A value bound to a statement parameter.
enum SQLiteValue {
    case text(String)
    case integer(Int64)
    case blob([UInt8])
    case null

    static func optionalText(_ text: String?) -> SQLiteValue { text.map(SQLiteValue.text) ?? .null }
}

/// One SQLite connection with its prepared-statement cache.
///
/// Not thread-safe: exactly one thread uses a connection at a time (``SQLiteConnections`` hands
/// them out under a lock). Opened in multi-thread mode (`SQLITE_OPEN_NOMUTEX`), so SQLite does no
/// locking of its own on it.
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    /// Milliseconds a statement waits on another connection's lock before failing with `SQLITE_BUSY`.
    static let busyTimeout: Int32 = 10_000

    /// Opens (creating if needed) the database at `path` and applies the per-connection pragmas:
    /// WAL, `synchronous=FULL`, `foreign_keys=ON`, busy timeout; `query_only` for readers.
    init(path: String, readOnly: Bool) throws(StoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            handle = nil
            throw .database(code: rc, message: message, statement: "open \(path)")
        }
        sqlite3_busy_timeout(handle, Self.busyTimeout)
        sqlite3_extended_result_codes(handle, 1)
        do {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=FULL")
            try execute("PRAGMA foreign_keys=ON")
            if readOnly {
                try execute("PRAGMA query_only=ON")
            } else {
                // Truncate the WAL back to 64 MiB after a checkpoint that followed a burst of writes.
                try execute("PRAGMA journal_size_limit=67108864")
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Finalizes cached statements and closes the connection. Idempotent.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private func liveHandle(_ sql: String) throws(StoreError) -> OpaquePointer {
        guard let handle else { throw .database(code: SQLITE_MISUSE, message: "connection to \(path) is closed", statement: sql) }
        return handle
    }

    func error(_ rc: Int32, _ sql: String) -> StoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return .database(code: rc, message: message, statement: sql)
    }

    /// Runs SQL text that may hold several statements and returns no rows of interest.
    func execute(_ sql: String) throws(StoreError) {
        let db = try liveHandle(sql)
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw .database(code: rc, message: text, statement: sql)
        }
    }

    /// The cached prepared statement for `sql` (prepared on first use), reset and ready to bind.
    func statement(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let db = try liveHandle(sql)
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, sql) }
        let statement = SQLiteStatement(handle: raw, sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT` (rolled back if `body` throws). Returns only
    /// after COMMIT, which with `synchronous=FULL` has synced the WAL.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try statement("BEGIN IMMEDIATE").run()
        let result: T
        do {
            result = try body()
            try statement("COMMIT").run()
        } catch {
            try? statement("ROLLBACK").run()
            throw error
        }
        return result
    }

    /// Reads a single integer (e.g. `PRAGMA user_version`).
    func integer(_ sql: String) throws(StoreError) -> Int64 {
        let s = try statement(sql)
        defer { s.reset() }
        guard try s.step() else { throw .database(code: SQLITE_ERROR, message: "no row", statement: sql) }
        return s.int64(0)
    }
}

/// A prepared statement owned by one ``SQLiteConnection``.
///
/// Use pattern: ``bind(_:)``, then ``step()`` until it returns false (or ``rows(_:_:)`` / ``run(_:)``);
/// every helper resets the statement when done so it can be reused from the cache.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection

    /// SQLite copies bound text and blobs.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    func finalize() { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ values: [SQLiteValue]) throws(StoreError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .text(let text): rc = sqlite3_bind_text(handle, index, text, -1, Self.transient)
            case .integer(let number): rc = sqlite3_bind_int64(handle, index, number)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { buffer in
                    // A non-nil pointer even for an empty blob, so it binds as a zero-length BLOB, not NULL.
                    sqlite3_bind_blob(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count), Self.transient)
                }
            case .null: rc = sqlite3_bind_null(handle, index)
            }
            guard rc == SQLITE_OK else { throw connection.error(rc, sql) }
        }
    }

    /// Advances to the next row: true when a row is available, false when done.
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(rc, sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Binds `values` and steps to completion, discarding rows.
    func run(_ values: [SQLiteValue] = []) throws(StoreError) {
        defer { reset() }
        try bind(values)
        while try step() {}
    }

    /// Binds `values` and maps every row through `body`.
    func rows<T>(_ values: [SQLiteValue], _ body: (SQLiteStatement) throws(StoreError) -> T) throws(StoreError) -> [T] {
        defer { reset() }
        try bind(values)
        var result: [T] = []
        while try step() { result.append(try body(self)) }
        return result
    }

    /// Binds `values` and maps the first row through `body`; nil when there is none.
    func firstRow<T>(_ values: [SQLiteValue], _ body: (SQLiteStatement) throws(StoreError) -> T) throws(StoreError) -> T? {
        defer { reset() }
        try bind(values)
        guard try step() else { return nil }
        return try body(self)
    }

    // MARK: columns (0-based)

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// Column text as UTF-8 (nil for NULL); reads by length, so embedded NULs survive.
    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
