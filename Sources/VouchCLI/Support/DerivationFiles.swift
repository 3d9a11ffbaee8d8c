import Dispatch
import Foundation
import NixFormats

/// Reads `.drv` files given on the command line and their input derivations from the same
/// directory or the store.
struct DerivationFiles {
    let storeDir: String
    private var cache: [String: Derivation] = [:]
    /// Directories of the `.drv` files given, searched for input derivations first.
    private var searchDirectories: [SearchDirectory] = []

    init(storeDir: String) { self.storeDir = storeDir }

    /// The derivation name for a file: from a `<hash>-<name>.drv` base name, else `fallback`.
    func name(forFile path: String, aterm: [UInt8], fallback: String?) throws -> String {
        if let fallback { return fallback }
        let base = FileIO.baseName(path)
        if let storePath = try? StorePath(baseName: base, storeDir: storeDir), storePath.isDerivation {
            return String(storePath.name.dropLast(4))
        }
        throw CLIError("cannot tell the derivation name of '\(path)' from its file name; pass --name")
    }

    /// Parses a user-given `.drv` file; input derivations will also be looked up beside it.
    mutating func load(file path: String, name: String?, bytes preread: [UInt8]? = nil) throws -> Derivation {
        let bytes = try preread ?? FileIO.read(path: path, limit: ATerm.maximumSize)
        let drv = try Derivation(aterm: bytes, name: try self.name(forFile: path, aterm: bytes, fallback: name), source: path)
        let directory = FileIO.directory(path)
        if !searchDirectories.contains(where: { $0.path == directory }) { searchDirectories.append(SearchDirectory(directory)) }
        return drv
    }

    /// Loads an input derivation by absolute store path: beside the given files first, then the store.
    mutating func load(storePath path: String) throws -> Derivation {
        if let cached = cache[path] { return cached }
        let drv = try read(storePath: path)
        cache[path] = drv
        return drv
    }

    /// Reads and parses one derivation by absolute store path (no caching; safe from any thread).
    func read(storePath path: String) throws -> Derivation {
        let sp = try StorePath(absolutePath: path, storeDir: storeDir)
        guard sp.isDerivation else { throw CLIError("input '\(path)' is not a .drv path") }
        let base = sp.baseName
        for candidate in searchDirectories.map({ ($0, "\($0.path)/\(base)") }) + [(nil, path)] {
            let bytes: [UInt8]
            do {
                if let directory = candidate.0, directory.fd >= 0 {
                    bytes = try FileIO.read(name: base, in: directory.fd, path: candidate.1, limit: ATerm.maximumSize)
                } else {
                    bytes = try FileIO.read(path: candidate.1, limit: ATerm.maximumSize)
                }
            } catch let failure as POSIXFailure where failure.operation == "open" && failure.code == ENOENT {
                continue
            }
            return try Derivation(aterm: bytes, name: String(sp.name.dropLast(4)), source: candidate.1)
        }
        throw CLIError("input derivation \(path) not found beside the given files or in the store")
    }

    /// Every derivation reachable from `root` through input derivations, `known` ones taken as
    /// given, read and parsed on all cores (each as soon as a loaded derivation names it). If any
    /// cannot be loaded, the error of the first such path in byte order is thrown.
    func closure(of root: String, known: [String: Derivation]) throws -> [String: Derivation] {
        let walk = ClosureWalk(root: root)
        DispatchQueue.concurrentPerform(iterations: max(1, ProcessInfo.processInfo.activeProcessorCount)) { _ in
            walk.work { path in try known[path] ?? self.read(storePath: path) }
        }
        return try walk.result()
    }

    /// A hasher that loads inputs through this reader. Uses a reference box so the loader can mutate the cache.
    static func hasher(_ files: Box<DerivationFiles>) -> DerivationHasher {
        DerivationHasher { path in try files.value.load(storePath: path) }
    }
}

/// The shared state of a parallel closure load; every field is guarded by `condition`, which is
/// why the unchecked Sendable is sound.
final class ClosureWalk: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [String]
    private var seen: Set<String>
    private var loaded: [String: Derivation] = [:]
    private var failures: [String: any Error] = [:]
    private var inFlight = 0

    init(root: String) {
        queue = [root]
        seen = [root]
    }

    /// Loads queued paths until none is queued or in flight; queues each loaded one's new inputs.
    func work(_ load: (String) throws -> Derivation) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while queue.isEmpty && inFlight > 0 { condition.wait() }
            guard let path = queue.popLast() else { return }
            inFlight += 1
            condition.unlock()
            let result = Result { try load(path) }
            condition.lock()
            inFlight -= 1
            switch result {
            case .success(let drv):
                loaded[path] = drv
                for input in drv.inputDrvs.keys where seen.insert(input).inserted { queue.append(input) }
            case .failure(let error):
                failures[path] = error
            }
            condition.broadcast()
        }
    }

    func result() throws -> [String: Derivation] {
        condition.lock()
        defer { condition.unlock() }
        if let first = failures.keys.min(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { throw failures[first]! }
        return loaded
    }
}

/// A directory kept open, so the files in it are opened by base name (one path lookup each, not
/// one per component). Immutable once made; closed when the last reference goes.
final class SearchDirectory: Sendable {
    let path: String
    /// -1 when it could not be opened (files are then opened by full path).
    let fd: Int32

    init(_ path: String) {
        self.path = path
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// A mutable reference used to let a loader closure share the file cache (single-threaded CLI use).
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
