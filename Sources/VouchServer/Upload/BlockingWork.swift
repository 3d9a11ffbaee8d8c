import NIOPosix

/// Where blocking work runs, so it never stalls the event loops or Swift's cooperative pool.
enum BlockingWork {
    /// File system calls of the blob store (stat, write, fsync, rename).
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    /// Long CPU-bound work (decompressing and checking a whole NAR), kept off the shared pool so
    /// that database calls are not starved by a large upload.
    static func runLong<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await validationPool.runIfActive(body)
    }

    /// Started on first use and never shut down (it lives as long as the process).
    private static let validationPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()
}
