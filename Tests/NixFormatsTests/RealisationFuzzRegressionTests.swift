import Foundation
import NixFormats
import XCTest

/// Inputs FuzzRealisation found (Fuzz/FailCases/FuzzRealisation/).
final class RealisationFuzzRegressionTests: XCTestCase {
    let sig = String(repeating: "A", count: 86) + "=="
    let prefix = #"{"id":"sha256:b8b64cd5099da28d1a91d733be36e3738d55de535e1b78bbb8494dfd75369bf6!out","outPath":"8j6gms9db941pr19hsfkpcdkz2sa18ym-ca-m","signatures":["#

    /// A signature key name is free text (Nix only splits at the first ':'); `json` wrote it
    /// unescaped, so a `"` in it produced a document that is not JSON.
    func testQuoteInSignatureKeyName() throws {
        let input = prefix + #""a\"b:\#(sig)"]}"#
        let realisation = try Realisation(parsing: Array(input.utf8))
        XCTAssertEqual(realisation.signatures.map(\.keyName), [#"a"b"#])
        XCTAssertTrue(realisation.json.hasSuffix(#""signatures":["a\"b:\#(sig)"]}"#), realisation.json)
        let again = try Realisation(parsing: Array(realisation.json.utf8))
        XCTAssertEqual(again, realisation)
        XCTAssertEqual(again.json, realisation.json)
    }

    /// Control characters and backslashes in key names are escaped as Nix's JSON writer does.
    func testControlCharactersAndBackslashInSignatureKeyName() throws {
        let input = prefix + #""a\\b\n\t\r\b\f\u0001\u001f\u007f\u00e9:\#(sig)"]}"#
        let realisation = try Realisation(parsing: Array(input.utf8))
        XCTAssertEqual(realisation.signatures.map(\.keyName), ["a\\b\n\t\r\u{08}\u{0C}\u{01}\u{1F}\u{7F}é"])
        XCTAssertTrue(realisation.json.contains(#""a\\b\n\t\r\b\f\u0001\u001f"# + "\u{7F}é:"), realisation.json)
        let again = try Realisation(parsing: Array(realisation.json.utf8))
        XCTAssertEqual(again, realisation)
        XCTAssertEqual(again.json, realisation.json)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(realisation.json.utf8)))
    }

    /// The fail case file itself parses and round-trips.
    func testFailCaseFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/FailCases/FuzzRealisation/quote-in-signature-key-name")
        let realisation = try Realisation(parsing: Array(try Data(contentsOf: url)))
        XCTAssertEqual(try Realisation(parsing: Array(realisation.json.utf8)).json, realisation.json)
    }
}
