import Dispatch
import NixFormats
import VouchTrace

/// Reads and parses trace files on all cores (parsing dominates loading). A file is a Vouch DSSE
/// envelope or a laut trace file `{"signatures":["<JWS>",…]}`.
enum TraceLoader {
    /// What the files held, and the ones that could not be used (each error names its file).
    struct Loaded {
        var traces: [SignedTrace] = []
        var lautTraces: [LautTrace] = []
        var failures: [any Error] = []
    }

    /// One file's contents.
    enum Item {
        case envelope(SignedTrace)
        case laut([LautTrace])
    }

    static func load(traceFiles files: [String], storeDir: String = StorePath.defaultStoreDir) -> Loaded {
        var loaded = Loaded()
        for result in parse(files, storeDir: storeDir) {
            switch result {
            case .success(.envelope(let signed)): loaded.traces.append(signed)
            case .success(.laut(let traces)): loaded.lautTraces.append(contentsOf: traces)
            case .failure(let error): loaded.failures.append(error)
            }
        }
        return loaded
    }

    static func parse(_ files: [String], storeDir: String) -> [Result<Item, any Error>] {
        var items = [Result<Item, any Error>?](repeating: nil, count: files.count)
        // A few interleaved shares per worker, each with its own cache of paths and hashes (traces
        // share most of their inputs); interleaving keeps the shares even.
        let shares = min(files.count, 8)
        items.withUnsafeMutableBufferPointer { buffer in
            let base = Slots(buffer)
            DispatchQueue.concurrentPerform(iterations: shares) { share in
                let cache = TraceValueCache()
                for i in stride(from: share, to: files.count, by: shares) {
                    base.buffer[i] = Result { try item(path: files[i], storeDir: storeDir, cache: cache) }
                }
            }
        }
        return items.map { $0! }
    }

    /// Parses one file: as an envelope first (the common case), else as a laut trace file.
    static func item(path: String, storeDir: String, cache: TraceValueCache? = nil) throws -> Item {
        let bytes = try FileIO.read(path: path, limit: max(DSSEEnvelope.maximumSize, LautTrace.maximumSize))
        do {
            return .envelope(try SignedTrace(parsing: bytes, source: path, cache: cache))
        } catch {
            guard let value = try? JSONValue(parsing: bytes), value["signatures"]?.array != nil, value["payload"] == nil else { throw error }
            return .laut(try LautTrace.parseFile(bytes, source: path, storeDir: storeDir))
        }
    }

    /// Each slot is written by exactly one worker and read after concurrentPerform returns.
    struct Slots: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Result<Item, any Error>?>
        init(_ buffer: UnsafeMutableBufferPointer<Result<Item, any Error>?>) { self.buffer = buffer }
    }
}
