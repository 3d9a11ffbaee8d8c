import Dispatch
import NixFormats

/// Reads `.drv` files given on the command line and their input derivations from the same
/// directory or the store.
struct DerivationFiles {
    let storeDir: String
    private var cache: [String: Derivation] = [:]
    private var searchDirectories: [String] = []

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
        if !searchDirectories.contains(directory) { searchDirectories.append(directory) }
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
        var candidates = searchDirectories.map { "\($0)/\(sp.baseName)" }
        candidates.append(path)
        for candidate in candidates where FileIO.exists(candidate) {
            let bytes = try FileIO.read(path: candidate, limit: ATerm.maximumSize)
            return try Derivation(aterm: bytes, name: String(sp.name.dropLast(4)), source: candidate)
        }
        throw CLIError("input derivation \(path) not found beside the given files or in the store")
    }

    /// Every derivation reachable from `root` through input derivations, `known` ones taken as
    /// given. Each frontier of not-yet-loaded inputs is read and parsed on all cores.
    func closure(of root: String, known: [String: Derivation]) throws -> [String: Derivation] {
        var loaded: [String: Derivation] = [:]
        var frontier = [root]
        while !frontier.isEmpty {
            let missing = frontier.filter { known[$0] == nil }
            let slots = ParallelSlots<Derivation>(count: missing.count)
            DispatchQueue.concurrentPerform(iterations: missing.count) { i in slots.set(i, Result { try self.read(storePath: missing[i]) }) }
            for (i, path) in missing.enumerated() { loaded[path] = try slots.get(i) }
            for path in frontier where known[path] != nil { loaded[path] = known[path] }
            var next: Set<String> = []
            for path in frontier {
                for input in loaded[path]!.inputDrvs.keys where loaded[input] == nil { next.insert(input) }
            }
            frontier = next.sorted()
        }
        return loaded
    }

    /// A hasher that loads inputs through this reader. Uses a reference box so the loader can mutate the cache.
    static func hasher(_ files: Box<DerivationFiles>) -> DerivationHasher {
        DerivationHasher { path in try files.value.load(storePath: path) }
    }
}

/// One result per slot, each written by exactly one worker of a `concurrentPerform` and read only
/// after it returns: that happens-before edge is why the unchecked Sendable is sound.
final class ParallelSlots<T>: @unchecked Sendable {
    private let results: UnsafeMutableBufferPointer<Result<T, any Error>?>
    init(count: Int) { results = .allocate(capacity: count); results.initialize(repeating: nil) }
    deinit { results.deinitialize().deallocate() }
    func set(_ i: Int, _ result: Result<T, any Error>) { results[i] = result }
    func get(_ i: Int) throws -> T { try results[i]!.get() }
}

/// A mutable reference used to let a loader closure share the file cache (single-threaded CLI use).
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
