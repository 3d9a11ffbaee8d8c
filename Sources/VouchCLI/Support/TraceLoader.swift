import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NixFormats
import VouchTrace

/// Reads and parses trace files on all cores (parsing dominates loading). A file is a Vouch DSSE
/// envelope or a laut trace file `{"signatures":["<JWS>",…]}`.
enum TraceLoader {
    /// What the files held, and the ones that could not be used (each error names its file).
    struct Loaded {
        var traces: [PreparedTrace] = []
        var lautTraces: [LautTrace] = []
        var failures: [any Error] = []
    }

    static func load(traceFiles files: [String], storeDir: String = StorePath.defaultStoreDir) -> Loaded {
        // One worker per core, each with its own cache of paths and hashes (traces share most of
        // their inputs), taking the next few files of `order` until none is left: no worker waits
        // on a share that another happened to get late. Files are taken in base-name order, so the
        // traces of one step from several builders' directories (named after the derivation) go
        // to one worker close together and share its cache. Envelopes are parsed straight into
        // their slot of `traces` (copying a trace would retain each of its many fields); the few
        // other files are collected per worker.
        let workers = max(1, min(files.count, ProcessInfo.processInfo.activeProcessorCount))
        let order = processingOrder(files)
        let next = NextChunk(count: files.count, size: 16)
        let isEnvelope = UnsafeMutableBufferPointer<Bool>.allocate(capacity: files.count)
        isEnvelope.initialize(repeating: false)
        defer { isEnvelope.deallocate() }
        let others = UnsafeMutableBufferPointer<[(file: Int, result: Result<[LautTrace], any Error>)]>.allocate(capacity: workers)
        others.initialize(repeating: [])
        defer { others.deinitialize().deallocate() }
        var loaded = Loaded()
        loaded.traces = [PreparedTrace](unsafeUninitializedCapacity: files.count) { buffer, count in
            let slots = Slots(traces: buffer, isEnvelope: isEnvelope, others: others)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let cache = TraceValueCache()
                var directories = OpenDirectories()
                defer { directories.close() }
                // Envelopes are prepared four at a time (their signatures hashed side by side).
                var pendingFiles: [Int] = [], pending: [SignedTrace] = []
                func flush() {
                    var batch: [SignedTrace] = []
                    swap(&batch, &pending)
                    for (file, prepared) in zip(pendingFiles, PreparedTrace.preparing(batch)) {
                        (slots.traces.baseAddress! + file).initialize(to: prepared)
                        slots.isEnvelope[file] = true
                    }
                    pendingFiles.removeAll(keepingCapacity: true)
                }
                while let chunk = next.take() {
                    for i in order[chunk] {
                        do {
                            switch try read(files[i], storeDir: storeDir, cache: cache, directories: &directories) {
                            case .envelope(let trace):
                                pendingFiles.append(i)
                                pending.append(trace)
                                if pending.count == 4 { flush() }
                            case .laut(let laut):
                                slots.others[worker].append((i, .success(laut)))
                            }
                        } catch {
                            slots.others[worker].append((i, .failure(error)))
                        }
                    }
                }
                flush()
            }
            // Close the gaps left by other files; moving a trace does not copy it.
            var kept = 0
            for i in 0..<files.count where isEnvelope[i] {
                if kept != i { (buffer.baseAddress! + kept).moveInitialize(from: buffer.baseAddress! + i, count: 1) }
                kept += 1
            }
            count = kept
        }
        for (_, result) in others.flatMap({ $0 }).sorted(by: { $0.file < $1.file }) {
            switch result {
            case .success(let traces): loaded.lautTraces += traces
            case .failure(let error): loaded.failures.append(error)
            }
        }
        return loaded
    }

    /// File indices by base name (bytewise), ties by index.
    static func processingOrder(_ files: [String]) -> [Int] {
        let names = files.map { path -> Substring in
            guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path[...] }
            return path[path.utf8.index(after: slash)...]
        }
        return files.indices.sorted { a, b in
            if names[a] == names[b] { return a < b }
            return names[a].utf8.lexicographicallyPrecedes(names[b].utf8)
        }
    }

    /// Hands out consecutive ranges of `0..<count` to workers, each range once.
    final class NextChunk: @unchecked Sendable {
        private let lock = NSLock()
        private var start = 0
        private let count: Int
        private let size: Int
        init(count: Int, size: Int) { (self.count, self.size) = (count, size) }

        /// The next range, or nil once all are taken. Guarded by `lock`: hence the unchecked Sendable.
        func take() -> Range<Int>? {
            lock.lock()
            defer { lock.unlock() }
            guard start < count else { return nil }
            let range = start..<min(count, start + size)
            start = range.upperBound
            return range
        }
    }

    enum File {
        case envelope(SignedTrace)
        case laut([LautTrace])
    }

    /// Parses one file: an envelope (the common case), else a laut trace file.
    static func read(_ path: String, storeDir: String, cache: TraceValueCache, directories: inout OpenDirectories) throws -> File {
        let bytes = try directories.read(path, limit: max(DSSEEnvelope.maximumSize, LautTrace.maximumSize))
        do {
            return .envelope(try SignedTrace(parsing: bytes, source: path, cache: cache))
        } catch {
            guard let value = try? JSONValue(parsing: bytes), value["signatures"]?.array != nil, value["payload"] == nil else { throw error }
            return .laut(try LautTrace.parseFile(bytes, source: path, storeDir: storeDir))
        }
    }

    /// Directories opened once, so each file is opened by its base name.
    struct OpenDirectories {
        private var open: [Substring: Int32] = [:]

        mutating func read(_ path: String, limit: Int) throws -> [UInt8] {
            // (The UTF-8 view: String.lastIndex(of:) walks back by grapheme clusters, measured at 2% of a run.)
            guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.startIndex else { return try FileIO.read(path: path, limit: limit) }
            let directory = path[..<slash]
            let fd: Int32
            if let known = open[directory] {
                fd = known
            } else {
                fd = Glibc.open(String(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if fd < 0 { return try FileIO.read(path: path, limit: limit) }
                open[directory] = fd
            }
            return try FileIO.read(name: String(path[path.index(after: slash)...]), in: fd, path: path, limit: limit)
        }

        func close() { for fd in open.values { _ = Glibc.close(fd) } }
    }

    /// Each slot is written by exactly one worker (`others` by worker) and read after
    /// concurrentPerform returns.
    struct Slots: @unchecked Sendable {
        let traces: UnsafeMutableBufferPointer<PreparedTrace>
        let isEnvelope: UnsafeMutableBufferPointer<Bool>
        let others: UnsafeMutableBufferPointer<[(file: Int, result: Result<[LautTrace], any Error>)]>
    }
}
