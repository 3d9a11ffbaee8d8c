import CSQLite
import NIOPosix

/// The connections of one SQLite database and the threads that use them.
///
/// - One writer connection, used under a lock: writes are serialised in process, and every write
///   transaction is `BEGIN IMMEDIATE`, so another process writing the same file waits (busy timeout).
/// - Reader connections, taken from an idle list (a new one is opened when none is idle; at most one
///   per pool thread is ever in use). In WAL mode they read a snapshot and never wait for the writer.
/// - All SQLite calls run on `threadPool`, never on Swift's cooperative pool.
final class SQLiteConnections: Sendable {
    let path: String
    private let threadPool: NIOThreadPool
    private let writer: LockedValue<SQLiteConnection?>
    private let readers: LockedValue<(idle: [SQLiteConnection], closed: Bool)>

    /// Idle readers kept open beyond this many are closed when returned.
    private static let maximumIdleReaders = 16

    init(path: String, threadPool: NIOThreadPool) throws(StoreError) {
        self.path = path
        self.threadPool = threadPool
        writer = LockedValue(try SQLiteConnection(path: path, readOnly: false))
        readers = LockedValue(([], false))
    }

    /// Runs `body` on the thread pool with the writer connection, holding the writer lock.
    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await offload(what) { () throws(StoreError) -> T in
            try self.writeNow(what, body)
        }
    }

    /// Synchronous form of ``write(_:_:)`` for the calling thread (opening and migrating).
    func writeNow<T>(_ what: String, _ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try writer.withLock { (connection: inout SQLiteConnection?) throws(StoreError) -> T in
            guard let connection else { throw Self.closedError(what) }
            return try body(connection)
        }
    }

    /// Runs `body` on the thread pool with a reader connection (a consistent snapshot per statement,
    /// or per transaction if `body` opens one).
    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T) async throws(StoreError) -> T {
        try await offload(what) { () throws(StoreError) -> T in
            let connection = try self.takeReader(what)
            defer { self.returnReader(connection) }
            return try body(connection)
        }
    }

    private func takeReader(_ what: String) throws(StoreError) -> SQLiteConnection {
        let idle = try readers.withLock { (state: inout (idle: [SQLiteConnection], closed: Bool)) throws(StoreError) -> SQLiteConnection? in
            guard !state.closed else { throw Self.closedError(what) }
            return state.idle.popLast()
        }
        if let idle { return idle }
        return try SQLiteConnection(path: path, readOnly: true)
    }

    private func returnReader(_ connection: SQLiteConnection) {
        let keep = readers.withLock { state in
            guard !state.closed, state.idle.count < Self.maximumIdleReaders else { return false }
            state.idle.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes every connection; later calls fail with `SQLITE_MISUSE`. Waits for a running write.
    func close() {
        let idle = readers.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { connection.close() }
        writer.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    private static func closedError(_ what: String) -> StoreError {
        .database(code: SQLITE_MISUSE, message: "the store is closed", statement: what)
    }

    /// Runs blocking `body` on the thread pool. If the calling task is cancelled before `body`
    /// starts, `body` never runs and the error says so; once started, it always completes.
    private func offload<T: Sendable>(_ what: String, _ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        do {
            return try await threadPool.runIfActive { try body() }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(code: SQLITE_INTERRUPT, message: "not run: \(error)", statement: what)
        }
    }
}
