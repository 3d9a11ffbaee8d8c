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
    }
}
