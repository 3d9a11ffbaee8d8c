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
        let sp = try StorePath(absolutePath: path, storeDir: storeDir)
        guard sp.isDerivation else { throw CLIError("input '\(path)' is not a .drv path") }
        var candidates = searchDirectories.map { "\($0)/\(sp.baseName)" }
        candidates.append(path)
        for candidate in candidates where FileIO.exists(candidate) {
            let bytes = try FileIO.read(path: candidate, limit: ATerm.maximumSize)
            let drv = try Derivation(aterm: bytes, name: String(sp.name.dropLast(4)), source: candidate)
            cache[path] = drv
            return drv
        }
        throw CLIError("input derivation \(path) not found beside the given files or in the store")
    }

    /// A hasher that loads inputs through this reader. Uses a reference box so the loader can mutate the cache.
    static func hasher(_ files: Box<DerivationFiles>) -> DerivationHasher {
        DerivationHasher { path in try files.value.load(storePath: path) }
    }
}

/// A mutable reference used to let a loader closure share the file cache (single-threaded CLI use).
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
