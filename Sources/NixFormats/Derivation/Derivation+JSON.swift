import Foundation

/// JSON forms of derivations.
///
/// Writing produces `nix show-derivation` (Nix 2.8) output byte for byte: an object keyed by
/// `.drv` path, fields in the order outputs, inputSrcs, inputDrvs, system, builder, args, env,
/// two-space indentation. Reading also accepts the later `nix derivation show` shapes: output
/// `method` + `hashAlgo` (format 2+), base-name paths (3+), `inputDrvs` values
/// `{"outputs": […]}`, `inputs.srcs`/`inputs.drvs` (4) and the top-level
/// `{"derivations": …, "version": N}` wrapper (Nix 2.34+).
public enum DerivationJSON {
    /// Renders `nix show-derivation` JSON for `derivations` keyed by drv path, without a final newline.
    /// Strings are written as raw bytes, as Nix does, so the result is not always valid UTF-8.
    public static func render(_ derivations: [(path: String, derivation: Derivation)]) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        for (path, drv) in derivations.sorted(by: { bytewise($0.path, $1.path) }) {
            w.key(path)
            w.beginObject()
            w.key("outputs")
            w.beginObject()
            for name in drv.outputNames {
                let o = drv.outputs[name]!
                w.key(name)
                w.beginObject()
                if !o.path.isEmpty { w.key("path"); w.string(o.path) }
                if !o.hashAlgo.isEmpty { w.key("hashAlgo"); w.string(o.hashAlgo) }
                if !o.hash.isEmpty { w.key("hash"); w.string(o.hash) }
                w.endObject()
            }
            w.endObject()
            w.key("inputSrcs")
            w.beginArray()
            for src in drv.inputSrcs.sorted(by: bytewise) { w.string(src) }
            w.endArray()
            w.key("inputDrvs")
            w.beginObject()
            for input in drv.inputDrvs.keys.sorted(by: bytewise) {
                w.key(input)
                w.beginArray()
                for o in drv.inputDrvs[input]!.sorted(by: bytewise) { w.string(o) }
                w.endArray()
            }
            w.endObject()
            w.key("system"); w.string(drv.platform.bytes)
            w.key("builder"); w.string(drv.builder.bytes)
            w.key("args")
            w.beginArray()
            for arg in drv.args { w.string(arg.bytes) }
            w.endArray()
            w.key("env")
            w.beginObject()
            for key in drv.env.keys.sorted() { w.key(key.bytes); w.string(drv.env[key]!.bytes) }
            w.endObject()
            w.endObject()
        }
        w.endObject()
        return w.output
    }

    /// Parses `nix show-derivation` / `nix derivation show` JSON.
    /// - Returns: derivations keyed by absolute `.drv` path.
    /// - Throws: ``DerivationError`` naming the derivation and field.
    public static func parse(_ data: [UInt8], source: String, storeDir: String = StorePath.defaultStoreDir) throws(DerivationError) -> [String: Derivation] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: Data(data), options: []) } catch {
            throw DerivationError(.syntax, source: source, "not valid JSON: \(error.localizedDescription)")
        }
        guard var top = root as? [String: Any] else { throw DerivationError(.syntax, source: source, "top level must be an object") }
        if let wrapped = top["derivations"] as? [String: Any], top["version"] != nil { top = wrapped }
        var result: [String: Derivation] = [:]
        for (key, value) in top {
            let path = absolute(key, storeDir: storeDir)
            guard let object = value as? [String: Any] else { throw DerivationError(.syntax, source: "\(source): \(key)", "derivation must be an object") }
            let storePath: StorePath
            do throws(StorePathError) { storePath = try StorePath(absolutePath: path, storeDir: storeDir) } catch {
                throw DerivationError(.invalidPath, source: source, error.description)
            }
            guard storePath.isDerivation else { throw DerivationError(.invalidPath, source: source, "\(path) is not a .drv path") }
            let name = (object["name"] as? String) ?? String(storePath.name.dropLast(4))
            result[path] = try derivation(object, name: name, source: "\(source): \(key)", storeDir: storeDir)
        }
        return result
    }

    private static func absolute(_ path: String, storeDir: String) -> String {
        path.hasPrefix("/") ? path : "\(storeDir)/\(path)"
    }

    private static func derivation(_ object: [String: Any], name: String, source: String, storeDir: String) throws(DerivationError) -> Derivation {
        func field<T>(_ key: String, _ type: T.Type) throws(DerivationError) -> T {
            guard let value = object[key] as? T else { throw DerivationError(.syntax, source: source, "field '\(key)' is missing or has the wrong type") }
            return value
        }
        var outputs: [String: Derivation.Output] = [:]
        for (outName, spec) in try field("outputs", [String: Any].self) {
            guard let spec = spec as? [String: Any] else { throw DerivationError(.syntax, source: source, "output '\(outName)' must be an object") }
            let path = (spec["path"] as? String).map { absolute($0, storeDir: storeDir) } ?? ""
            var algo = spec["hashAlgo"] as? String ?? ""
            var hash = spec["hash"] as? String ?? ""
            if let method = spec["method"] as? String {
                switch method {
                case "nar": algo = "r:" + algo
                case "text": algo = "text:" + algo
                case "flat": break
                default: throw DerivationError(.unsupported, source: source, "output '\(outName)' has unsupported method '\(method)'")
                }
            }
            if !hash.isEmpty && hash != "impure" && (hash.contains("-") || hash.contains(":")) {
                let algoName = algo.split(separator: ":").last.map(String.init)
                do throws(HashParseError) {
                    let parsed = try NixHash(parsing: hash, algorithm: algoName.flatMap(HashAlgorithm.init(rawValue:)))
                    hash = parsed.base16
                    if algoName == nil || algoName == "" { algo += parsed.algorithm.rawValue }
                } catch { throw DerivationError(.invalidOutput, source: source, error.description) }
            }
            outputs[outName] = Derivation.Output(path: path, hashAlgo: algo, hash: hash)
        }
        var inputDrvs: [String: Set<String>] = [:]
        var inputSrcs: [String] = []
        var drvsObject = object["inputDrvs"] as? [String: Any]
        if let inputs = object["inputs"] as? [String: Any] {
            drvsObject = inputs["drvs"] as? [String: Any]
            inputSrcs = inputs["srcs"] as? [String] ?? []
        } else if let inputs = object["inputs"] as? [String] {
            inputSrcs = inputs
        } else {
            inputSrcs = object["inputSrcs"] as? [String] ?? []
        }
        for (path, value) in drvsObject ?? [:] {
            if let names = value as? [String] {
                inputDrvs[absolute(path, storeDir: storeDir)] = Set(names)
            } else if let spec = value as? [String: Any], let names = spec["outputs"] as? [String] {
                if let dynamic = spec["dynamicOutputs"] as? [String: Any], !dynamic.isEmpty {
                    throw DerivationError(.unsupported, source: source, "dynamic derivation outputs are not supported")
                }
                inputDrvs[absolute(path, storeDir: storeDir)] = Set(names)
            } else {
                throw DerivationError(.syntax, source: source, "input derivation '\(path)' has an unreadable output list")
            }
        }
        let envObject = try field("env", [String: Any].self)
        var env: [ByteString: ByteString] = [:]
        for (key, value) in envObject {
            guard let value = value as? String else { throw DerivationError(.syntax, source: source, "env '\(key)' must be a string") }
            env[ByteString(key)] = ByteString(value)
        }
        if object["structuredAttrs"] != nil {
            throw DerivationError(.unsupported, source: source, "the structuredAttrs JSON field is not supported; use the ATerm")
        }
        return Derivation(
            name: name, outputs: outputs, inputDrvs: inputDrvs, inputSrcs: Set(inputSrcs.map { absolute($0, storeDir: storeDir) }),
            platform: ByteString(try field("system", String.self)), builder: ByteString(try field("builder", String.self)),
            args: try field("args", [String].self).map { ByteString($0) }, env: env)
    }
}

/// Pretty JSON writer matching Nix 2.8's `JSONWriter` (2-space indent, Nix's string escaping).
struct JSONWriter {
    private(set) var output: [UInt8] = []
    private var stack: [(isObject: Bool, count: Int)] = []
    private var afterKey = false

    private mutating func newline() {
        output.append(0x0a)
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: stack.count * 2))
    }

    private mutating func beforeValue() {
        if afterKey { afterKey = false; return }
        if !stack.isEmpty {
            if stack[stack.count - 1].count > 0 { output.append(UInt8(ascii: ",")) }
            stack[stack.count - 1].count += 1
            newline()
        }
    }

    mutating func beginObject() { beforeValue(); output.append(UInt8(ascii: "{")); stack.append((true, 0)) }
    mutating func beginArray() { beforeValue(); output.append(UInt8(ascii: "[")); stack.append((false, 0)) }
    mutating func endObject() { end(UInt8(ascii: "}")) }
    mutating func endArray() { end(UInt8(ascii: "]")) }

    private mutating func end(_ byte: UInt8) {
        let frame = stack.removeLast()
        if frame.count > 0 { newline() }
        output.append(byte)
    }

    mutating func key(_ key: String) { self.key(Array(key.utf8)) }
    mutating func key(_ key: [UInt8]) {
        beforeValue()
        escape(key)
        output.append(contentsOf: Array(": ".utf8))
        afterKey = true
    }

    mutating func string(_ value: String) { string(Array(value.utf8)) }
    mutating func string(_ value: [UInt8]) { beforeValue(); escape(value) }

    private mutating func escape(_ bytes: [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        output.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\")); output.append(byte)
            case 0x0a: output.append(contentsOf: Array("\\n".utf8))
            case 0x0d: output.append(contentsOf: Array("\\r".utf8))
            case 0x09: output.append(contentsOf: Array("\\t".utf8))
            case 0..<0x20: output.append(contentsOf: Array("\\u00".utf8)); output.append(hex[Int(byte >> 4)]); output.append(hex[Int(byte & 0xf)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
