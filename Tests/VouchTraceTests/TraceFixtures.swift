import NixFormats
import VouchTrace
import XCTest

/// Shared builders for VouchTrace tests: deterministic store paths and hashes, realistic traces,
/// JSON editing by dotted path, and base64url.
enum Fixture {
    /// A store path whose digest is derived from `seed` (always valid nix32).
    static func path(_ seed: String, _ name: String, storeDir: String = StorePath.defaultStoreDir) -> StorePath {
        let digest = Array(HashAlgorithm.sha256.digest(Array("path:\(seed)".utf8)).bytes.prefix(20))
        return try! StorePath(digest: digest, name: name, storeDir: storeDir)
    }

    static func hash(_ seed: String) -> NixHash { HashAlgorithm.sha256.digest(Array("nar:\(seed)".utf8)) }

    static func key(_ name: String) -> NixSecretKey { try! NixSecretKey(generatingNamed: name) }

    /// A trace with `outputs` outputs and `inputs` inputs (every third input a plain source,
    /// the others annotated derivation outputs), inputs and outputs already in canonical order.
    static func trace(builder: NixPublicKey, name: String = "hello-2.12", outputs: Int = 3, inputs: Int = 40,
                      storeDir: String = StorePath.defaultStoreDir, salt: String = "") -> BuildTrace {
        let outputNames = ["out", "dev", "lib", "doc", "man", "bin", "info"]
        let outs = (0..<outputs).map { i -> BuildTrace.Output in
            let output = i < outputNames.count ? outputNames[i] : "out\(i)"
            return BuildTrace.Output(name: output, path: path("\(salt)\(name)-\(output)", output == "out" ? name : "\(name)-\(output)", storeDir: storeDir),
                                     narHash: hash("\(salt)\(name)-\(output)"), narSize: UInt64(1000 + 37 * i))
        }
        let ins = (0..<inputs).map { i -> BuildTrace.Input in
            let dep = "dep\(i)-1.\(i)"
            if i % 3 == 0 {
                return BuildTrace.Input(path: path("\(salt)src\(i)", "\(dep).tar.gz", storeDir: storeDir), narHash: hash("\(salt)src\(i)"))
            }
            return BuildTrace.Input(path: path("\(salt)\(dep)", dep, storeDir: storeDir), narHash: hash("\(salt)\(dep)"),
                                    derivation: path("\(salt)\(dep).drv", "\(dep).drv", storeDir: storeDir), output: "out")
        }
        return BuildTrace(
            derivation: path("\(salt)\(name).drv", "\(name).drv", storeDir: storeDir),
            resolvedDerivation: path("\(salt)\(name)-resolved.drv", "\(name).drv", storeDir: storeDir),
            system: "x86_64-linux",
            outputs: outs.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) },
            inputs: ins.sorted { $0.path.absolute.utf8.lexicographicallyPrecedes($1.path.absolute.utf8) },
            builderKey: builder,
            implementation: "nix",
            implementationVersion: "2.8.0",
            startedOn: "2026-11-22T03:07:31Z",
            finishedOn: "2026-11-22T03:57:13Z",
            invocationID: "d6b72924-f194-461d-af5a-dfddc90b7d5b\(salt)",
            builtBySigner: true,
            attestations: [BuildTrace.Attestation(type: "application/vnd.example.tpm-quote", evidence: Array(0..<48))]
        )
    }

    static func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
        do { return try JSONValue(parsing: Array(text.utf8)) } catch {
            XCTFail("could not parse \(text): \(error)", file: file, line: line)
            return .null
        }
    }

    /// URL-safe base64 without padding (RFC 7515 BASE64URL).
    static func base64URL(_ bytes: [UInt8]) -> String {
        String(Base64.encode(bytes).compactMap { c -> Character? in
            switch c {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: c
            }
        })
    }
}

extension JSONValue {
    /// A copy with the member at `path` (dotted keys, decimal components index arrays) replaced,
    /// or removed when `value` is nil.
    func setting(_ path: String, to value: JSONValue?) -> JSONValue {
        setting(path.split(separator: ".").map(String.init)[...], to: value)
    }

    private func setting(_ path: ArraySlice<String>, to value: JSONValue?) -> JSONValue {
        guard let head = path.first else { return value ?? .null }
        let rest = path.dropFirst()
        switch self {
        case .object(var members):
            if rest.isEmpty {
                members[head] = value
            } else {
                members[head] = (members[head] ?? .object([:])).setting(rest, to: value)
            }
            return .object(members)
        case .array(var items):
            let index = Int(head)!
            if rest.isEmpty {
                if let value { items[index] = value } else { items.remove(at: index) }
            } else {
                items[index] = items[index].setting(rest, to: value)
            }
            return .array(items)
        default:
            preconditionFailure("cannot descend into \(self) at \(head)")
        }
    }

    /// The value at a dotted path.
    func at(_ path: String) -> JSONValue? {
        var current: JSONValue? = self
        for component in path.split(separator: ".").map(String.init) {
            if let index = Int(component), let items = current?.array {
                current = index < items.count ? items[index] : nil
            } else {
                current = current?[component]
            }
        }
        return current
    }
}

/// Asserts that `body` throws a ``TraceError`` with `code` whose reason mentions every string in `mentions`.
func assertTraceError<T>(_ code: TraceError.Code, mentions: [String] = [], _ body: @autoclosure () throws -> T,
                         _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected TraceError.\(code) mentioning \(mentions), got success. \(message)", file: file, line: line)
    } catch let error as TraceError {
        XCTAssertEqual(error.code, code, "\(error) \(message)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(error.reason.contains(text), "reason '\(error.reason)' does not mention '\(text)'. \(message)", file: file, line: line)
        }
    } catch {
        XCTFail("expected TraceError, got \(error). \(message)", file: file, line: line)
    }
}
