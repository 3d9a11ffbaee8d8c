import Foundation
import NixFormats
import VouchTrace
import XCTest

/// Signing and verifying DSSE-wrapped traces with real Ed25519 keys; every tampering case is a real
/// signature over other bytes, never a mocked verifier.
final class SignedTraceTests: XCTestCase {
    let a = Fixture.key("builder-a")
    let b = Fixture.key("builder-b")
    let c = Fixture.key("builder-c")

    /// Parses `envelope`; every case also checks that the trace prepared for verification (payload
    /// dropped, challenges computed ahead) says what the signed trace says about its builder.
    func parse(_ envelope: DSSEEnvelope, file: StaticString = #filePath, line: UInt = #line) throws -> SignedTrace {
        let signed = try SignedTrace(parsing: envelope.json, source: "test")
        let prepared = try PreparedTrace(parsing: envelope.json, source: "test", cache: TraceValueCache())
        XCTAssertEqual(prepared.trace, signed.trace, file: file, line: line)
        // Also prepared in batches (hashed side by side), beside another trace.
        let other = try SignedTrace(signing: Fixture.trace(builder: c.publicKey, inputs: 3), with: c)
        let batch = PreparedTrace.preparing([signed, other, signed])
        XCTAssertEqual(batch.map(\.trace), [signed.trace, other.trace, signed.trace], file: file, line: line)
        XCTAssertEqual(Ed25519VerifyingKey(c.publicKey).map(batch[1].isSignedByBuilder), true, file: file, line: line)
        let builder = signed.trace.builderKey
        for key in [a.publicKey, b.publicKey, c.publicKey] {
            let expected = key == builder && signed.isSignedByBuilder(trusting: [key])
            XCTAssertEqual(Ed25519VerifyingKey(key).map(prepared.isSignedByBuilder), expected, "prepared for \(key.name)", file: file, line: line)
            XCTAssertEqual(Ed25519VerifyingKey(key).map(batch[0].isSignedByBuilder), expected, "batch-prepared for \(key.name)", file: file, line: line)
            XCTAssertEqual(Ed25519VerifyingKey(key).map(batch[2].isSignedByBuilder), expected, "batch-prepared for \(key.name)", file: file, line: line)
        }
        return signed
    }

    /// The envelope of `signed` with its payload replaced by `statement` (signatures kept).
    func withPayload(_ signed: SignedTrace, _ statement: JSONValue) -> DSSEEnvelope {
        var envelope = signed.envelope
        envelope.payload = statement.canonicalBytes
        return envelope
    }

    func testSignAndVerify() throws {
        let trace = Fixture.trace(builder: a.publicKey)
        let signed = try SignedTrace(signing: trace, with: a)
        XCTAssertEqual(signed.trace, trace)
        XCTAssertEqual(signed.envelope.payloadType, "application/vnd.in-toto+json")
        XCTAssertEqual(signed.envelope.payload, trace.statementBytes)
        XCTAssertEqual(signed.envelope.signatures.count, 1)
        XCTAssertEqual(signed.envelope.signatures[0].keyID, a.publicKey.description)
        XCTAssertTrue(a.publicKey.isValid(signature: NixSignature(keyName: a.name, bytes: signed.envelope.signatures[0].bytes),
                                          for: DSSEEnvelope.pae(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes)),
                      "the signature is plain Ed25519 over PAE(payloadType, statement)")
        XCTAssertEqual(signed.verify(trusting: [a.publicKey]), [.valid(a.publicKey)])
        XCTAssertEqual(signed.verify(trusting: [b.publicKey, c.publicKey, a.publicKey]), [.valid(a.publicKey)])
        XCTAssertEqual(signed.validSigners(trusting: [a.publicKey, b.publicKey]), [a.publicKey])

        let read = try parse(signed.envelope)
        XCTAssertEqual(read, signed)
        XCTAssertEqual(read.trace, trace)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.valid(a.publicKey)])
        XCTAssertEqual(read.envelope.json, signed.envelope.json)
    }

    func testNoTrustedKeysMeansNothingCounts() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        XCTAssertEqual(signed.verify(trusting: []), [.untrusted(keyID: a.publicKey.description)])
        XCTAssertEqual(signed.validSigners(trusting: []), [])
    }

    func testSigningWithAKeyThatIsNotTheBuilderThrows() {
        let trace = Fixture.trace(builder: a.publicKey)
        assertTraceError(.invalidField, mentions: ["builder-b"], try SignedTrace(signing: trace, with: b))
        // Same name, other key material.
        let impostor = Fixture.key("builder-a")
        assertTraceError(.invalidField, try SignedTrace(signing: trace, with: impostor))
    }

    // MARK: tampering

    func testChangedSubjectDigestIsInvalid() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        let forged = signed.trace.statement.setting("subject.0.digest.sha256", to: .string(Fixture.hash("evil").base16))
        let read = try parse(withPayload(signed, forged))
        XCTAssertNotEqual(read.trace.outputs, signed.trace.outputs, "the forged payload is what was read")
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey, b.publicKey]), [])
    }

    func testChangedInputHashIsInvalid() throws {
        let trace = Fixture.trace(builder: a.publicKey)
        let signed = try SignedTrace(signing: trace, with: a)
        var changed = trace
        changed.inputs[17].narHash = Fixture.hash("substituted")
        let read = try parse(withPayload(signed, changed.statement))
        XCTAssertEqual(read.trace, changed)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
        // Dropping an input, or flipping builtBySigner, is equally refused.
        changed = trace
        changed.inputs.remove(at: 3)
        XCTAssertEqual(try parse(withPayload(signed, changed.statement)).validSigners(trusting: [a.publicKey]), [])
        changed = trace
        changed.builtBySigner = false
        XCTAssertEqual(try parse(withPayload(signed, changed.statement)).validSigners(trusting: [a.publicKey]), [])
    }

    func testPayloadWithSameContentButOtherBytesIsInvalid() throws {
        // Re-encoding with whitespace keeps the meaning but not the signed bytes.
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        var envelope = signed.envelope
        envelope.payload = Array(" ".utf8) + envelope.payload
        let read = try parse(envelope)
        XCTAssertEqual(read.trace, signed.trace)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
    }

    func testNonCanonicalPayloadSignedAsIsVerifies() throws {
        // DSSE verifies the bytes it was given; a statement that is not canonical is still the signed one.
        let trace = Fixture.trace(builder: a.publicKey)
        let pretty = Array(String(decoding: trace.statementBytes, as: UTF8.self).replacingOccurrences(of: ",\"", with: ", \"").utf8)
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: pretty)
        envelope.sign(with: a)
        let read = try parse(envelope)
        XCTAssertEqual(read.trace, trace)
        XCTAssertEqual(read.envelope.payload, pretty)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.valid(a.publicKey)])
    }

    func testSwappedSubjectsBetweenTracesAreInvalid() throws {
        let one = try SignedTrace(signing: Fixture.trace(builder: a.publicKey, name: "one-1.0"), with: a)
        let two = try SignedTrace(signing: Fixture.trace(builder: a.publicKey, name: "two-1.0"), with: a)
        let subjectsOfTwo = two.trace.statement["subject"]!
        let forged = one.trace.statement.setting("subject", to: subjectsOfTwo)
        let read = try parse(withPayload(one, forged))
        XCTAssertEqual(read.trace.outputs, two.trace.outputs)
        XCTAssertEqual(read.trace.derivation, one.trace.derivation)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
        // Whole payloads swapped between two envelopes by the same key.
        var swapped = one.envelope
        swapped.payload = two.envelope.payload
        XCTAssertEqual(try parse(swapped).verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
        // Signatures swapped between the envelopes.
        swapped = one.envelope
        swapped.signatures = two.envelope.signatures
        XCTAssertEqual(try parse(swapped).validSigners(trusting: [a.publicKey]), [])
    }

    func testPayloadTypeIsCoveredBySignature() throws {
        // The same payload signed under another payload type does not verify as in-toto.
        let trace = Fixture.trace(builder: a.publicKey)
        var other = DSSEEnvelope(payloadType: "application/vnd.in-toto.provenance+json", payload: trace.statementBytes)
        other.sign(with: a)
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes)
        envelope.signatures = other.signatures
        XCTAssertEqual(try parse(envelope).verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
    }

    func testFlippedSignatureBitsAreInvalid() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        for index in [0, 31, 32, 63] {
            var envelope = signed.envelope
            envelope.signatures[0].bytes[index] ^= 0x01
            XCTAssertEqual(try parse(envelope).verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)], "byte \(index)")
        }
        // Wrong lengths: invalid when the keyid names a trusted key, untrusted otherwise.
        for length in [0, 63, 65, 128] {
            var envelope = signed.envelope
            envelope.signatures[0].bytes = Array((envelope.signatures[0].bytes + envelope.signatures[0].bytes).prefix(length))
            let read = try parse(envelope)
            XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)], "length \(length)")
            XCTAssertEqual(read.verify(trusting: [b.publicKey]), [.untrusted(keyID: a.publicKey.description)], "length \(length)")
        }
    }

    // MARK: who signed

    func testTraceNamingASignedByBIsNotBuilder() throws {
        let trace = Fixture.trace(builder: a.publicKey)
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: trace.statementBytes)
        envelope.sign(with: b)
        let read = try parse(envelope)
        XCTAssertEqual(read.trace.builderKey, a.publicKey)
        XCTAssertEqual(read.verify(trusting: [a.publicKey, b.publicKey]), [.notBuilder(b.publicKey)])
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey, b.publicKey]), [])
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.untrusted(keyID: b.publicKey.description)], "B's signature, B not trusted")
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey]), [])
        // B's keyid claiming to be A changes nothing.
        envelope.signatures[0].keyID = a.publicKey.description
        let lying = try parse(envelope)
        XCTAssertEqual(lying.verify(trusting: [a.publicKey, b.publicKey]), [.notBuilder(b.publicKey)])
        XCTAssertEqual(lying.verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description)])
        XCTAssertEqual(lying.validSigners(trusting: [a.publicKey, b.publicKey]), [])
    }

    func testBuilderAndAnotherSignerOnlyBuilderCounts() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        var envelope = signed.envelope
        envelope.sign(with: b)
        let read = try parse(envelope)
        XCTAssertEqual(read.verify(trusting: [a.publicKey, b.publicKey]), [.valid(a.publicKey), .notBuilder(b.publicKey)])
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey, b.publicKey]), [a.publicKey])
    }

    func testOneGoodAndOneBadSignature() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        var envelope = signed.envelope
        var bad = envelope.signatures[0]
        bad.bytes[10] ^= 0x80
        envelope.signatures.append(bad)
        let read = try parse(envelope)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.valid(a.publicKey), .invalid(keyID: a.publicKey.description)])
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey]), [a.publicKey])
        // Bad one first.
        envelope.signatures.reverse()
        XCTAssertEqual(try parse(envelope).verify(trusting: [a.publicKey]), [.invalid(keyID: a.publicKey.description), .valid(a.publicKey)])
        XCTAssertEqual(try parse(envelope).validSigners(trusting: [a.publicKey]), [a.publicKey])
    }

    func testTwoValidSignaturesBySameKeyCountOnce() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        var envelope = signed.envelope
        envelope.sign(with: a)
        envelope.signatures.append(signed.envelope.signatures[0])
        envelope.signatures.append(DSSEEnvelope.Signature(keyID: "", bytes: signed.envelope.signatures[0].bytes))
        let read = try parse(envelope)
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), Array(repeating: .valid(a.publicKey), count: 4))
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey]), [a.publicKey])
        // Trusting the key twice does not count it twice either.
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey, a.publicKey]), [a.publicKey])
    }

    func testUntrustedKeyIsReportedUntrusted() throws {
        let trace = Fixture.trace(builder: c.publicKey)
        let signed = try SignedTrace(signing: trace, with: c)
        XCTAssertEqual(signed.verify(trusting: [a.publicKey, b.publicKey]), [.untrusted(keyID: c.publicKey.description)])
        XCTAssertEqual(signed.validSigners(trusting: [a.publicKey, b.publicKey]), [])
    }

    func testKeyIDIsOnlyAHint() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        for keyID in [b.publicKey.description, "builder-b", "", "builder-a", "builder-a:" + Base64.encode(b.publicKey.raw), "garbage:::", "ñ"] {
            var envelope = signed.envelope
            envelope.signatures[0].keyID = keyID
            let read = try parse(envelope)
            XCTAssertEqual(read.verify(trusting: [b.publicKey, c.publicKey, a.publicKey]), [.valid(a.publicKey)], "keyid '\(keyID)'")
            XCTAssertEqual(read.validSigners(trusting: [b.publicKey, a.publicKey]), [a.publicKey], "keyid '\(keyID)'")
        }
        // An absent keyid reads as "".
        let json = Fixture.parse(String(decoding: signed.envelope.json, as: UTF8.self)).setting("signatures.0.keyid", to: nil)
        let read = try SignedTrace(parsing: json.canonicalBytes, source: "test")
        XCTAssertEqual(read.envelope.signatures[0].keyID, "")
        XCTAssertEqual(read.verify(trusting: [b.publicKey, a.publicKey]), [.valid(a.publicKey)])
    }

    func testTrustedKeyWithBuildersNameButOtherMaterialDoesNotCount() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        let impostorSecret = Fixture.key("builder-a")
        let impostor = impostorSecret.publicKey
        XCTAssertEqual(signed.verify(trusting: [impostor]), [.invalid(keyID: a.publicKey.description)])
        XCTAssertEqual(signed.verify(trusting: [impostor, a.publicKey]), [.valid(a.publicKey)])
        // The impostor signing a trace that names the real builder: verifies under the impostor, who is not the builder.
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: signed.trace.statementBytes)
        envelope.sign(with: impostorSecret)
        let read = try parse(envelope)
        XCTAssertEqual(read.verify(trusting: [impostor, a.publicKey]), [.notBuilder(impostor)])
        XCTAssertEqual(read.verify(trusting: [a.publicKey]), [.invalid(keyID: impostor.description)])
        XCTAssertEqual(read.validSigners(trusting: [a.publicKey, impostor]), [])
    }

    func testKeyWithSameMaterialButOtherNameIsNotTheBuilder() throws {
        let signed = try SignedTrace(signing: Fixture.trace(builder: a.publicKey), with: a)
        let renamed = NixPublicKey(name: "builder-a2", key: a.publicKey.key)
        XCTAssertEqual(signed.verify(trusting: [renamed]), [.notBuilder(renamed)])
        XCTAssertEqual(signed.validSigners(trusting: [renamed]), [])
    }

    // MARK: payload type

    func testOtherPayloadTypesAreUnsupported() throws {
        let trace = Fixture.trace(builder: a.publicKey)
        for type in ["application/json", "application/vnd.in-toto+json ", "APPLICATION/VND.IN-TOTO+JSON", "", "http://example.com/HelloWorld"] {
            var envelope = DSSEEnvelope(payloadType: type, payload: trace.statementBytes)
            envelope.sign(with: a)
            assertTraceError(.unsupported, mentions: ["payloadType"], try parse(envelope), "payloadType '\(type)'")
        }
    }

    func testPayloadThatIsNotAStatementIsRefused() throws {
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array("hello world".utf8))
        envelope.sign(with: a)
        assertTraceError(.malformed, mentions: ["statement"], try parse(envelope))
        envelope.payload = Array(#"{"_type":"https://in-toto.io/Statement/v1"}"#.utf8)
        assertTraceError(.invalidField, try parse(envelope))
    }
}
