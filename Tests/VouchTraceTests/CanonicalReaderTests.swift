import NixFormats
@testable import VouchTrace
import XCTest

/// `SignedTrace(parsing:)` reads canonical envelopes on a fast path; it must give exactly what the
/// general path (DSSE JSON → base64 → JSON statement → BuildTrace) gives, values and errors alike.
final class CanonicalReaderTests: XCTestCase {
    /// The general path, spelled out with public API.
    static func general(_ bytes: [UInt8]) -> Result<(DSSEEnvelope, BuildTrace), TraceError> {
        do throws(TraceError) {
            let envelope = try DSSEEnvelope(parsing: bytes, source: "t")
            guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
                throw TraceError(.unsupported, source: "t", "payloadType '\(envelope.payloadType)' is not \(DSSEEnvelope.inTotoPayloadType)")
            }
            let statement: JSONValue
            do throws(JSONError) { statement = try JSONValue(parsing: envelope.payload) } catch {
                throw TraceError(.malformed, source: "t", "statement: \(error)")
            }
            return .success((envelope, try BuildTrace(statement: statement, source: "t")))
        } catch {
            return .failure(error)
        }
    }

    /// Shared by every parse in a test, as the loader shares one per worker.
    nonisolated(unsafe) static let cache = TraceValueCache()

    static func assertSame(_ bytes: [UInt8], _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
        let fast: Result<SignedTrace, TraceError>
        do throws(TraceError) { fast = .success(try SignedTrace(parsing: bytes, source: "t", cache: cache)) } catch { fast = .failure(error) }
        switch (fast, general(bytes)) {
        case (.success(let a), .success(let (envelope, trace))):
            XCTAssertEqual(a.envelope, envelope, message(), file: file, line: line)
            XCTAssertEqual(a.trace, trace, message(), file: file, line: line)
        case (.failure(let a), .failure(let b)):
            XCTAssertEqual(a, b, message(), file: file, line: line)
        default:
            XCTFail("fast and general paths disagree: \(fast) vs \(general(bytes)) \(message())", file: file, line: line)
        }
    }

    let key = Fixture.key("builder-1")

    func traces() -> [BuildTrace] {
        var plain = Fixture.trace(builder: key.publicKey, outputs: 1, inputs: 5)
        plain.resolvedDerivation = nil
        plain.attestations = []
        plain.startedOn = nil
        var noInputs = Fixture.trace(builder: key.publicKey, outputs: 2, inputs: 0)
        noInputs.finishedOn = nil
        noInputs.builtBySigner = false
        return [Fixture.trace(builder: key.publicKey), plain, noInputs]
    }

    func testCanonicalEnvelopesReadAsTheGeneralPathReadsThem() throws {
        for trace in traces() {
            let signed = try SignedTrace(signing: trace, with: key)
            let bytes = signed.envelope.json
            Self.assertSame(bytes)
            XCTAssertEqual(try SignedTrace(parsing: bytes, source: "t").trace, trace)
        }
    }

    /// Non-canonical but valid forms (whitespace, URL-safe or unpadded base64, keyid null) take the
    /// general path and still read the same.
    func testNonCanonicalFormsStillRead() throws {
        let signed = try SignedTrace(signing: traces()[0], with: key)
        let canonical = String(decoding: signed.envelope.json, as: UTF8.self)
        let spaced = canonical.replacingOccurrences(of: "\",\"", with: "\" , \"").replacingOccurrences(of: "{", with: "{ ")
        let payload = Base64.encode(signed.envelope.payload)
        let urlSafe = canonical.replacingOccurrences(of: payload, with: payload.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: ""))
        for variant in [spaced, urlSafe] {
            Self.assertSame(Array(variant.utf8))
            XCTAssertEqual(try SignedTrace(parsing: Array(variant.utf8), source: "t").trace, signed.trace)
        }
    }

    /// Every single-byte edit of a canonical statement (re-wrapped in a canonical envelope) and of
    /// the envelope itself: the fast path accepts exactly what the general path accepts, with the
    /// same values, and otherwise fails with the same error.
    func testSingleByteEditsAgreeWithTheGeneralPath() throws {
        var trace = Fixture.trace(builder: key.publicKey, outputs: 2, inputs: 2)
        trace.attestations = [BuildTrace.Attestation(type: "t", evidence: [1, 2, 3, 4])]
        let signed = try SignedTrace(signing: trace, with: key)
        let statement = signed.envelope.payload
        // digit, quote, backslash, slash, colon, non-ASCII
        let replacements: [UInt8] = [0x30, 0x22, 0x5c, 0x2f, 0x3a, 0xc3]
        for position in statement.indices {
            for r in replacements where statement[position] != r {
                var edited = statement
                edited[position] = r
                let envelope = DSSEEnvelope(payloadType: signed.envelope.payloadType, payload: edited, signatures: signed.envelope.signatures)
                Self.assertSame(envelope.json, "statement byte \(position) -> \(r)")
            }
        }
        let envelope = signed.envelope.json
        // The payload's base64 is uniform: a stride through it, every byte elsewhere.
        for position in envelope.indices where position % 13 == 0 || position < 16 || position > envelope.count - 200 {
            for r in replacements where envelope[position] != r {
                var edited = envelope
                edited[position] = r
                Self.assertSame(edited, "envelope byte \(position) -> \(r)")
            }
        }
    }

    /// A cached path is reused only within its own store directory.
    func testCacheDoesNotCarryAPathAcrossStoreDirectories() throws {
        let trace = Fixture.trace(builder: key.publicKey, outputs: 1, inputs: 2)
        Self.assertSame(try SignedTrace(signing: trace, with: key).envelope.json)
        let other = String(decoding: trace.statementBytes, as: UTF8.self)
            .replacingOccurrences(of: "\"storeDir\":\"/nix/store\"", with: "\"storeDir\":\"/gnu/store\"")
        let envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array(other.utf8))
        XCTAssertThrowsError(try SignedTrace(parsing: envelope.json, source: "t", cache: Self.cache))
        Self.assertSame(envelope.json)
    }

    /// Dependency elements already read are reused only for exactly their bytes: traces sharing
    /// some of them, and edits that keep an element's shape (swapped order, another digest, another
    /// name, a member changed before `name`) read as the general path reads them.
    func testCachedDependencyElementsReadAsTheirBytesSay() throws {
        let cache = TraceValueCache()
        func assertSame(_ statement: String, _ message: String, line: UInt = #line) {
            let envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array(statement.utf8)).json
            let fast: Result<SignedTrace, TraceError>
            do throws(TraceError) { fast = .success(try SignedTrace(parsing: envelope, source: "t", cache: cache)) } catch { fast = .failure(error) }
            switch (fast, Self.general(envelope)) {
            case (.success(let a), .success(let (_, trace))): XCTAssertEqual(a.trace, trace, message, line: line)
            case (.failure(let a), .failure(let b)): XCTAssertEqual(a, b, message, line: line)
            default: XCTFail("fast and general paths disagree: \(message)", line: line)
            }
        }
        let first = Fixture.trace(builder: key.publicKey, outputs: 1, inputs: 6)
        var second = first
        second.inputs = Array(first.inputs.dropFirst(2)) + Fixture.trace(builder: key.publicKey, name: "other-1", outputs: 1, inputs: 8, salt: "o").inputs.suffix(2)
        second.inputs.sort { $0.path.absolute.utf8.lexicographicallyPrecedes($1.path.absolute.utf8) }
        let firstText = String(decoding: first.statementBytes, as: UTF8.self)
        assertSame(firstText, "first")
        assertSame(String(decoding: second.statementBytes, as: UTF8.self), "shares four elements")
        XCTAssertEqual(try SignedTrace(parsing: DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: second.statementBytes).json,
                                       source: "t", cache: cache).trace, second)

        // The elements of `first` as written, to edit at the text level.
        let elements = first.statement["predicate"]!["buildDefinition"]!["resolvedDependencies"]!.array!.map { String(decoding: $0.canonicalBytes, as: UTF8.self) }
        XCTAssertEqual(elements.count, 6)
        for element in elements { XCTAssertTrue(firstText.contains(element)) }
        var swapped = firstText.replacingOccurrences(of: elements[1], with: "\u{1}").replacingOccurrences(of: elements[2], with: elements[1])
        swapped = swapped.replacingOccurrences(of: "\u{1}", with: elements[2])
        assertSame(swapped, "two cached elements out of order")
        assertSame(firstText.replacingOccurrences(of: elements[3] + "," + elements[4], with: elements[3] + "," + elements[3]), "a cached element twice")
        let digest = first.inputs[3].narHash.base16
        assertSame(firstText.replacingOccurrences(of: digest, with: String(digest.reversed())), "another digest")
        assertSame(firstText.replacingOccurrences(of: digest, with: String(digest.dropLast()) + "g"), "a bad digest")
        let name = first.inputs[4].path.absolute
        assertSame(firstText.replacingOccurrences(of: "\"name\":\"\(name)\"", with: "\"name\":\"\(name)x\""), "a longer name")
        assertSame(firstText.replacingOccurrences(of: "\"name\":\"\(name)\"", with: "\"name\":\"\(name.dropLast())\""), "a shorter name")
        assertSame(firstText.replacingOccurrences(of: "\"output\":\"out\"}", with: "\"output\":\"dev\"}"), "another output")
        assertSame(firstText.replacingOccurrences(of: "\"name\":\"\(name)\"}", with: "\"name\":\"\(name)\" }"), "a space before the brace")
        assertSame(firstText, "first again")

        // A colliding key is only a hint: file `first`'s element under the key of an edited copy.
        let edited = elements[3].replacingOccurrences(of: digest, with: String(digest.suffix(32) + digest.prefix(32)))
        let known = try XCTUnwrap(Array(elements[3].utf8).withUnsafeBytes { text in cache.inputs.first(cache.inputs.key(text), where: { cache.isText(text, of: $0) }) })
        Array(edited.utf8).withUnsafeBytes { cache.inputs.insert(known, cache.inputs.key($0)) }
        let collided = firstText.replacingOccurrences(of: elements[3], with: edited)
        assertSame(collided, "an element whose key collides with a cached one")
        XCTAssertNotEqual(try SignedTrace(parsing: DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array(collided.utf8)).json,
                                          source: "t", cache: cache).trace.inputs[3], first.inputs[3])
    }

    /// The cache's table keeps finding every value after growing well past its first size, and
    /// only under the text it was stored with.
    func testValueTableFindsEveryValueAfterGrowing() {
        var table = ValueTable<Int>()
        func key(_ text: String) -> UInt64 { Array(text.utf8).withUnsafeBytes { table.key($0) } }
        let texts = (0..<5_000).map { "/nix/store/\($0)-name" }
        for (i, text) in texts.enumerated() { table.insert(i, key(text)) }
        for (i, text) in texts.enumerated() {
            XCTAssertEqual(table.first(key(text), where: { $0 == i }), i)
            XCTAssertNil(table.first(key(text), where: { $0 == i + 1 }))
        }
        XCTAssertEqual(key("abc"), key("abc"))
        XCTAssertNotEqual(key("abc"), key("abd"))
        XCTAssertNotEqual(key("12345678a"), key("12345678b"), "the tail after the last full word counts")
        XCTAssertNil(table.first(key("/nix/store/5000-name"), where: { _ in true }))

        // Keys that share a slot, a tag (high half) or everything: each value is still found by
        // its own key and match, and never by another key.
        var crowded = ValueTable<Int>()
        let sameSlot: [UInt64] = (0..<40).map { UInt64($0) << 32 | 7 }
        let sameTag: [UInt64] = (0..<40).map { 0xabcd << 32 | UInt64($0) * 1024 + 7 }
        let sameKey: [UInt64] = Array(repeating: 0x1234_5678_0000_0007, count: 40)
        let all = sameSlot + sameTag + sameKey
        for (i, k) in all.enumerated() { crowded.insert(i, k) }
        for (i, k) in all.enumerated() {
            XCTAssertEqual(crowded.first(k, where: { $0 == i }), i)
            XCTAssertNil(crowded.first(k ^ 1 << 40, where: { $0 == i }))
        }
    }
}
