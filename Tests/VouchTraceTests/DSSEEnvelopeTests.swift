import NixFormats
import VouchTrace
import XCTest

/// Vectors from the DSSE v1.0.2 protocol and an Ed25519 in-toto envelope verified with securesystemslib
/// (see docs/trace-format.md, "Interop").
final class DSSEEnvelopeTests: XCTestCase {
    func testPAEMatchesTheSpecVector() {
        let pae = DSSEEnvelope.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        XCTAssertEqual(Base16.encode(pae), "44535345763120323920687474703a2f2f6578616d706c652e636f6d2f48656c6c6f576f726c642031312068656c6c6f20776f726c64")
    }

    func testEd25519InTotoVectorIsReproducedBitForBit() throws {
        let seed = (0..<32).map { UInt8($0) }
        let key = try NixSecretKey(parsing: "vector:" + Base64.encode(seed + Base16.decode("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")!))
        let payload = #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"out","digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://example.org/nix-trace/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.org/builders/a"}}}}"#
        var envelope = DSSEEnvelope(payloadType: DSSEEnvelope.inTotoPayloadType, payload: Array(payload.utf8))
        XCTAssertEqual(envelope.payload.count, 376)
        XCTAssertEqual(HashAlgorithm.sha256.digest(envelope.signedBytes).base16, "79dde29855a49fa745b0ccde721be6e8881cfa87dbee62911b1e9a4abb714296")
        envelope.sign(with: key)
        XCTAssertEqual(Base64.encode(envelope.signatures[0].bytes),
                       "nCRIfmZTV02zq4jTFGydm5d84ebwVSBxxxiJTr0LkGM26uBvsE1nVGl79524ZQAt/VouaoojMCs+3VLznnqWBg==")
        let reparsed = try DSSEEnvelope(parsing: envelope.json, source: "test")
        XCTAssertEqual(reparsed, envelope)
    }
}
