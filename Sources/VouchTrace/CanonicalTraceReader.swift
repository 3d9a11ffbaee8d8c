import CBase64
import NixFormats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast reader for envelopes and statements in exactly the canonical form Vouch writes
/// (members in byte order, no whitespace, standard padded base64, ASCII strings without escapes).
///
/// It accepts a subset of what the strict general path (``JSONValue`` + ``BuildTrace/init(statement:source:)``)
/// accepts and yields the same values; on anything else it returns nil and the caller falls back
/// to the general path, which then also produces the error. So input is exactly as strict as before.
struct CanonicalTraceReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private let cache: TraceValueCache?

    private init(_ bytes: UnsafeBufferPointer<UInt8>, cache: TraceValueCache? = nil) {
        self.bytes = bytes
        self.cache = cache
    }

    /// The envelope's payload type, payload and signatures, if `envelope` is canonical.
    static func envelope(_ envelope: [UInt8]) -> DSSEEnvelope? {
        envelope.withUnsafeBufferPointer { buffer -> DSSEEnvelope? in
            var r = CanonicalTraceReader(buffer)
            guard r.literal("{\"payload\":"), let payloadRange = r.base64String(), r.literal(",\"payloadType\":"),
                  let typeRange = r.plainString(), r.literal(",\"signatures\":[") else { return nil }
            guard let payload = Self.base64(UnsafeBufferPointer(rebasing: buffer[payloadRange])) else { return nil }
            var signatures: [DSSEEnvelope.Signature] = []
            if !r.literal("]") {
                while true {
                    guard r.literal("{\"keyid\":"), let keyRange = r.plainString(), r.literal(",\"sig\":"), let sigRange = r.base64String(),
                          r.literal("}"), let sig = Self.base64(UnsafeBufferPointer(rebasing: buffer[sigRange])) else { return nil }
                    signatures.append(DSSEEnvelope.Signature(keyID: r.text(keyRange), bytes: sig))
                    if r.literal(",") { continue }
                    guard r.literal("]") else { return nil }
                    break
                }
            }
            guard r.literal("}"), r.index == buffer.count, buffer.count <= DSSEEnvelope.maximumSize else { return nil }
            return DSSEEnvelope(payloadType: r.text(typeRange), payload: payload, signatures: signatures)
        }
    }

    /// The trace in a canonical statement, or nil (then the general path decides).
    static func trace(_ statement: [UInt8], source: String, cache: TraceValueCache? = nil) -> BuildTrace? {
        guard statement.count <= JSONValue.maximumSize else { return nil }
        return statement.withUnsafeBufferPointer { buffer -> BuildTrace? in
            var r = CanonicalTraceReader(buffer, cache: cache)
            return r.statement()
        }
    }

    // MARK: - Statement

    private typealias Span = Range<Int>

    private mutating func statement() -> BuildTrace? {
        guard literal(Self.statementHead) else { return nil }
        // externalParameters
        guard literal("\"externalParameters\":{\"derivation\":"), let derivationText = plainString(),
              literal(",\"outputs\":["), let declared = stringList() else { return nil }
        var resolvedText: Span?
        if literal(",\"resolvedDerivation\":") {
            guard let span = plainString() else { return nil }
            resolvedText = span
        }
        guard literal("},\"internalParameters\":{\"builtBySigner\":") else { return nil }
        let built: Bool
        if literal("true") { built = true } else if literal("false") { built = false } else { return nil }
        guard literal(",\"storeDir\":"), let storeDirSpan = plainString(), literal(",\"system\":"), let systemSpan = plainString(),
              literal("},\"resolvedDependencies\":[") else { return nil }
        let storeDir = text(storeDirSpan)
        // The general path reads paths only after storeDir; any path error sends us there.
        // As StorePath(absolutePath:): `<storeDir>/<base name>` with no further `/`.
        let dirBytes = UnsafeBufferPointer(rebasing: bytes[storeDirSpan])
        func path(_ span: Span) -> StorePath? {
            let start = span.lowerBound + dirBytes.count
            guard span.count > dirBytes.count + 1, UnsafeBufferPointer(rebasing: bytes[span.lowerBound..<start]).elementsEqual(dirBytes),
                  bytes[start] == UInt8(ascii: "/") else { return nil }
            let base = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<span.upperBound])
            // With the store directory checked, the absolute path bytes determine the value.
            guard let cache else { return parseBase(base) }
            let key = cache.paths.key(UnsafeRawBufferPointer(base))
            if let known = cache.paths.first(key, where: { $0.storeDir == storeDir && Self.isBaseName(base, of: $0) }) { return known }
            let parsed = parseBase(base)
            if let parsed { cache.paths.insert(parsed, key) }
            return parsed
        }
        func parseBase(_ base: UnsafeBufferPointer<UInt8>) -> StorePath? {
            guard !base.contains(UInt8(ascii: "/")) else { return nil }
            return try? StorePath(baseName: String(decoding: base, as: UTF8.self), storeDir: storeDir)
        }
        var inputs: [BuildTrace.Input] = []
        /// With a cache, the inputs' indices in it (the inputs themselves are taken from there at the end).
        var known: [Int32]? = cache == nil ? nil : []
        var previousName: Span?
        if !literal("]") {
            while true {
                // An element read before (the same bytes, the same store directory) is that input again.
                if let cache, let end = Self.descriptorEnd(bytes, from: index) {
                    let element = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[index..<end]))
                    let key = cache.inputs.key(element)
                    if let hit = cache.inputs.first(key, where: { $0.storeDir == storeDir && cache.isText(element, of: $0) }) {
                        let n = (index + hit.name.lowerBound)..<(index + hit.name.upperBound)
                        guard previousName.map({ less($0, n) }) ?? true else { return nil }
                        previousName = n
                        known?.append(hit.id)
                        index = end
                        if literal(",") { continue }
                        guard literal("]") else { return nil }
                        break
                    }
                }
                let elementStart = index
                guard literal("{") else { return nil }
                var drv: StorePath?
                var output: String?
                if literal("\"annotations\":{") {
                    guard literal("\"derivation\":"), let d = plainString(), literal(",\"output\":"), let o = plainString(), literal("},"),
                          let dp = path(d), dp.isDerivation else { return nil }
                    drv = dp
                    output = text(o)
                }
                guard literal("\"digest\":{\"sha256\":"), let hash = sha256(), literal("},\"name\":"), let n = plainString(), literal("}"),
                      previousName.map({ less($0, n) }) ?? true, let p = path(n) else { return nil }
                previousName = n
                let input = BuildTrace.Input(path: p, narHash: hash, derivation: drv, output: output)
                if cache == nil { inputs.append(input) }
                if let cache {
                    known?.append(cache.remember(input, element: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[elementStart..<index])),
                                                 name: (n.lowerBound - elementStart)..<(n.upperBound - elementStart), storeDir: storeDir))
                }
                if literal(",") { continue }
                guard literal("]") else { return nil }
                break
            }
        }
        // With a cache every input is in it: the array is made from there, or shared with an earlier
        // trace that listed the same inputs (as the traces of one step usually do).
        if let cache, let known { inputs = cache.inputList(known) }
        // runDetails
        guard literal("},\"runDetails\":{\"builder\":{\"id\":"), let idSpan = plainString(), literal(",\"version\":{"),
              let implSpan = plainString(), literal(":"), let versionSpan = plainString(), literal("}}") else { return nil }
        var attestations: [BuildTrace.Attestation] = []
        if literal(",\"byproducts\":[") {
            while true {
                guard literal("{\"content\":"), let c = base64String(), literal(",\"mediaType\":"), let t = plainString(),
                      literal(",\"name\":\"attestation\"}"), let evidence = Self.base64(UnsafeBufferPointer(rebasing: bytes[c])) else { return nil }
                attestations.append(BuildTrace.Attestation(type: text(t), evidence: evidence))
                if literal(",") { continue }
                guard literal("]") else { return nil }
                break
            }
        }
        guard literal(",\"metadata\":{") else { return nil }
        var finished: Span?
        var started: Span?
        if literal("\"finishedOn\":") {
            guard let f = plainString(), literal(",") else { return nil }
            finished = f
        }
        guard literal("\"invocationId\":"), let invocation = plainString() else { return nil }
        if literal(",\"startedOn\":") {
            guard let s = plainString() else { return nil }
            started = s
        }
        guard literal(Self.predicateTypeMember) else { return nil }
        var outputs: [BuildTrace.Output] = []
        while true {
            guard literal("{\"annotations\":{\"narSize\":"), let size = positiveInteger(), literal(",\"output\":"), let nameSpan = plainString(),
                  literal("},\"digest\":{\"sha256\":"), let hash = sha256(), literal("},\"name\":"), let n = plainString(), literal("}"),
                  let p = path(n) else { return nil }
            let name = text(nameSpan)
            guard !name.isEmpty, name.utf8.allSatisfy({ StorePathNameCharacters.contains($0) }) else { return nil }
            outputs.append(BuildTrace.Output(name: name, path: p, narHash: hash, narSize: size))
            if literal(",") { continue }
            guard literal("]") else { return nil }
            break
        }
        guard literal("}"), index == bytes.count else { return nil }

        // Field rules of the general path.
        guard let derivation = path(derivationText), derivation.isDerivation else { return nil }
        var resolved: StorePath?
        if let resolvedText {
            guard let r = path(resolvedText), r.isDerivation else { return nil }
            resolved = r
        }
        // Canonical subjects are in output-name order; declared names must be exactly those.
        guard declared.count == outputs.count, zip(declared, outputs).allSatisfy({ $0.0 == $0.1.name }),
              zip(outputs, outputs.dropFirst()).allSatisfy({ bytewiseLess($0.0.name, $0.1.name) }) else { return nil }
        // Inputs are in strictly increasing path order (checked above), so none repeats.
        let id = text(idSpan)
        guard let key = cache?.keys[id] ?? Self.builderKey(id) else { return nil }
        cache?.keys[id] = key
        let startedOn = started.map(text)
        let finishedOn = finished.map(text)
        if let startedOn, !BuildTrace.isTimestamp(startedOn) { return nil }
        if let finishedOn, !BuildTrace.isTimestamp(finishedOn) { return nil }
        return BuildTrace(derivation: derivation, resolvedDerivation: resolved, system: text(systemSpan), outputs: outputs, inputs: inputs,
                          builderKey: key, implementation: text(implSpan), implementationVersion: text(versionSpan),
                          startedOn: startedOn, finishedOn: finishedOn, invocationID: text(invocation), builtBySigner: built,
                          attestations: attestations)
    }

    /// Where the descriptor object starting at `start` would end in canonical form: just past the
    /// `}` after its last member, `"name":"…"` (plain strings hold no `"`, so the first such member
    /// is the last one). Only a candidate: the bytes up to it still have to be recognised.
    private static func descriptorEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        // `"name":"` is 8 bytes: compared as one word at each quote.
        let member = UInt64(littleEndian: 0x22_3a_22_65_6d_61_6e_22)
        let base = UnsafeRawPointer(bytes.baseAddress!)
        let limit = min(bytes.count, start + 2048)
        var at = start
        while true {
            guard at + 8 <= limit, let quote = memchr(base + at, Int32(UInt8(ascii: "\"")), limit - 8 - at + 1) else { return nil }
            at = base.distance(to: UnsafeRawPointer(quote))
            if base.loadUnaligned(fromByteOffset: at, as: UInt64.self) == member { break }
            at += 1
        }
        let valueStart = at + 8
        guard valueStart < bytes.count,
              let quote = memchr(base + valueStart, Int32(UInt8(ascii: "\"")), bytes.count - valueStart) else { return nil }
        let close = base.distance(to: UnsafeRawPointer(quote)) + 1
        guard close < bytes.count, bytes[close] == UInt8(ascii: "}") else { return nil }
        return close + 1
    }

    private static func builderKey(_ id: String) -> NixPublicKey? {
        guard id.hasPrefix(BuildTrace.builderIDPrefix) else { return nil }
        return try? NixPublicKey(parsing: String(id.dropFirst(BuildTrace.builderIDPrefix.count)), source: "")
    }

    // MARK: - Tokens

    /// Consumes `expected` if the input continues with it.
    private mutating func literal(_ expected: StaticString) -> Bool {
        let count = expected.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let base = expected.utf8Start
        for k in 0..<count where bytes[index + k] != base[k] { return false }
        index += count
        return true
    }

    private mutating func literal(_ expected: [UInt8]) -> Bool {
        guard index + expected.count <= bytes.count else { return false }
        for k in 0..<expected.count where bytes[index + k] != expected[k] { return false }
        index += expected.count
        return true
    }

    private static let statementHead = Array(
        "{\"_type\":\"\(BuildTrace.statementType)\",\"predicate\":{\"buildDefinition\":{\"buildType\":\"\(BuildTrace.buildType)\",".utf8)
    private static let predicateTypeMember = Array("}}},\"predicateType\":\"\(BuildTrace.predicateType)\",\"subject\":[".utf8)

    /// A string holding base64: only its closing quote is looked for here, since the base64
    /// decoder refuses every byte outside its alphabet (so escapes and controls never pass).
    private mutating func base64String() -> Span? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\""),
              let quote = memchr(bytes.baseAddress! + index + 1, Int32(UInt8(ascii: "\"")), bytes.count - index - 1) else { return nil }
        let end = bytes.baseAddress!.distance(to: quote.assumingMemoryBound(to: UInt8.self))
        let span = (index + 1)..<end
        index = end + 1
        return span
    }

    /// A string of printable ASCII without escapes; returns the span of its contents.
    private mutating func plainString() -> Span? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        var end = index + 1
        while end < bytes.count {
            let b = bytes[end]
            if b == UInt8(ascii: "\"") {
                let span = (index + 1)..<end
                index = end + 1
                return span
            }
            guard b >= 0x20, b < 0x80, b != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        return nil
    }

    private mutating func stringList() -> [String]? {
        var items: [String] = []
        if literal("]") { return items }
        while true {
            guard let s = plainString() else { return nil }
            items.append(text(s))
            if literal(",") { continue }
            return literal("]") ? items : nil
        }
    }

    /// `"<64 lowercase hex>"` as a SHA-256 hash.
    private mutating func sha256() -> NixHash? {
        guard let span = plainString(), span.count == 64 else { return nil }
        guard let cache else { return sha256(span) }
        let hex = UnsafeBufferPointer(rebasing: bytes[span])
        let key = cache.hashes.key(UnsafeRawBufferPointer(hex))
        if let known = cache.hashes.first(key, where: { Self.isHex(hex, of: $0.bytes) }) { return known }
        let parsed = sha256(span)
        if let parsed { cache.hashes.insert(parsed, key) }
        return parsed
    }

    /// True when `base` is `<hash part>-<name>` of `path`.
    static func isBaseName(_ base: UnsafeBufferPointer<UInt8>, of path: StorePath) -> Bool {
        let hashCount = StorePath.hashPartLength
        guard base.count == hashCount + 1 + path.name.utf8.count, base[hashCount] == UInt8(ascii: "-") else { return false }
        return path.withHashPartBytes { UnsafeBufferPointer(rebasing: base[..<hashCount]).elementsEqual($0) }
            && equal(path.name, UnsafeBufferPointer(rebasing: base[(hashCount + 1)...]))
    }

    private static func equal(_ text: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { utf8 in
            utf8.count == bytes.count && (bytes.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? text.utf8.elementsEqual(bytes)
    }

    /// True when `hex` is the lowercase hex of `digest`.
    static func isHex(_ hex: UnsafeBufferPointer<UInt8>, of digest: [UInt8]) -> Bool {
        guard hex.count == digest.count * 2 else { return false }
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        for (k, byte) in digest.enumerated() where hex[2 * k] != d[Int(byte >> 4)] || hex[2 * k + 1] != d[Int(byte & 0xf)] { return false }
        return true
    }

    private func sha256(_ span: Span) -> NixHash? {
        var digest = [UInt8](repeating: 0, count: 32)
        for k in 0..<32 {
            guard let hi = Self.hexValue(bytes[span.lowerBound + 2 * k]), let lo = Self.hexValue(bytes[span.lowerBound + 2 * k + 1]) else { return nil }
            digest[k] = hi << 4 | lo
        }
        return try? NixHash(algorithm: .sha256, bytes: digest)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// A canonical positive integer that fits in Int64.
    private mutating func positiveInteger() -> UInt64? {
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
            guard index - start < 18 else { return nil }
            value = value * 10 + UInt64(bytes[index] - 0x30)
            index += 1
        }
        guard index > start, bytes[start] != 0x30 else { return nil }
        return value
    }

    /// Bytewise order of two spans of the input.
    private func less(_ a: Span, _ b: Span) -> Bool {
        UnsafeBufferPointer(rebasing: bytes[a]).lexicographicallyPrecedes(UnsafeBufferPointer(rebasing: bytes[b]))
    }

    /// Padded standard base64 with the rules of ``Base64/decode(_:)-(UnsafeBufferPointer<UInt8>)`` (length a
    /// multiple of 4, padding only at the end, unused bits zero), decoded by `vouch_base64_decode` (C, AVX2 where available).
    static func base64(_ chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        if chars.isEmpty { return [] }
        // The exact size: vouch_base64_decode writes no further (it decodes 32 bytes at a time where the CPU can).
        var padding = 0
        if chars[chars.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if chars[chars.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: chars.count / 4 * 3 - padding) { out, count in
            let written = vouch_base64_decode(out.baseAddress!, chars.baseAddress!, chars.count)
            failed = written != out.count
            count = failed ? 0 : written
        }
        return failed ? nil : output
    }

    /// Base64 alphabet value per byte; 0xff for everything else (including `=`).

    private func text(_ span: Span) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[span]), as: UTF8.self) }
}

/// Store paths and hashes already read by one reader, so the many traces that name the same
/// input share one copy (less memory, less parsing). Not thread-safe: one per worker.
public final class TraceValueCache {
    /// By the text they were read from (base name / hex digits).
    var paths = ValueTable<StorePath>()
    var hashes = ValueTable<NixHash>()
    /// Builder keys by `runDetails.builder.id`.
    var keys: [String: NixPublicKey] = [:]
    /// Inputs by the exact bytes of their `resolvedDependencies` element (kept in `inputText`).
    var inputs = ValueTable<KnownInput>()
    private var inputText: [UInt8] = []

    /// Input arrays by the cache indices of their inputs.
    private var inputLists = ValueTable<(ids: [Int32], inputs: [BuildTrace.Input])>()

    final class KnownInput {
        /// Its index in `inputs`.
        let id: Int32
        let input: BuildTrace.Input
        let storeDir: String
        /// The element's bytes in `inputText`.
        let text: Range<Int>
        /// Its `name` value, relative to the element's start.
        let name: Range<Int>

        init(id: Int32, input: BuildTrace.Input, storeDir: String, text: Range<Int>, name: Range<Int>) {
            self.id = id
            self.input = input
            self.storeDir = storeDir
            self.text = text
            self.name = name
        }
    }

    public init() {}

    /// Returns the input's index.
    func remember(_ input: BuildTrace.Input, element: UnsafeRawBufferPointer, name: Range<Int>, storeDir: String) -> Int32 {
        let start = inputText.count
        inputText.append(contentsOf: element)
        let id = Int32(inputs.count)
        inputs.insert(KnownInput(id: id, input: input, storeDir: storeDir, text: start..<inputText.count, name: name), inputs.key(element))
        return id
    }

    /// The inputs with the cache indices `ids`, in that order: the array made for an earlier trace
    /// that listed the same ones, else a new one (then kept).
    func inputList(_ ids: [Int32]) -> [BuildTrace.Input] {
        let key = ids.withUnsafeBytes { inputLists.key($0) }
        if let seen = inputLists.first(key, where: { $0.ids == ids }) { return seen.inputs }
        let list = ids.map { inputs[Int($0)].input }
        inputLists.insert((ids, list), key)
        return list
    }

    func isText(_ element: UnsafeRawBufferPointer, of known: KnownInput) -> Bool {
        known.text.count == element.count && inputText.withUnsafeBytes { memcmp($0.baseAddress! + known.text.lowerBound, element.baseAddress!, element.count) == 0 }
    }
}

/// Values found by a hash of the text they were read from: open addressing, linear probing.
/// The hash is seeded per table, so which texts collide changes from run to run (a file cannot
/// be prepared to make every lookup probe far). Lookups compare candidates in full; equal keys
/// are only a hint.
struct ValueTable<Value> {
    /// Per slot: 0 when empty, else (index + 1) << 32 | the key's high 32 bits, so a probe skips
    /// most other keys without loading from `keys`.
    private var slots = [UInt64](repeating: 0, count: 1024)
    /// Kept to place the entries again when `slots` grows.
    private var keys: [UInt64] = []
    private var values: [Value] = []
    private let seed = UInt64.random(in: .min ... .max) | 1

    var count: Int { values.count }

    /// The value inserted `index`-th.
    subscript(index: Int) -> Value { values[index] }

    /// The key of `text`: a multiply-mix hash of its bytes, 8 at a time.
    func key(_ text: UnsafeRawBufferPointer) -> UInt64 {
        var h = seed ^ UInt64(text.count)
        var i = 0
        while i + 8 <= text.count {
            h = Self.mix(h ^ text.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        var tail: UInt64 = 0
        while i < text.count { tail = tail << 8 | UInt64(text[i]); i += 1 }
        return Self.mix(h ^ tail)
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        let product = x.multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15)
        return product.high ^ product.low
    }

    /// The first value stored under `key` that `matches`.
    func first(_ key: UInt64, where matches: (Value) -> Bool) -> Value? {
        let mask = slots.count - 1
        let tag = key >> 32
        var slot = Int(truncatingIfNeeded: key) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if entry & 0xffff_ffff == tag {
                let index = Int(entry >> 32) - 1
                if keys[index] == key && matches(values[index]) { return values[index] }
            }
            slot = (slot + 1) & mask
        }
    }

    mutating func insert(_ value: Value, _ key: UInt64) {
        if (values.count + 1) * 2 > slots.count { grow() }
        place(values.count, key)
        keys.append(key)
        values.append(value)
    }

    private mutating func place(_ index: Int, _ key: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: key) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt64(index + 1) << 32 | key >> 32
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        for (index, key) in keys.enumerated() { place(index, key) }
    }
}
