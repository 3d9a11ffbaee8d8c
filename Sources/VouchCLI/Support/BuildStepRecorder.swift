import Foundation
import NixFormats
import VouchTrace

/// Turns what Nix's post-build hook reports (DRV_PATH, OUT_PATHS) into a ``BuildTrace``,
/// reading derivations and outputs from the local store and NAR hashes from its database.
///
/// Cases (Nix 2.8.0 passes an empty OUT_PATHS except for the last one):
/// - input-addressed or fixed-output derivation without content-addressed inputs: the
///   derivation as built; inputs are its sources plus its input derivations' outputs;
/// - floating CA derivation without input derivations (also a resolved CA derivation):
///   `resolvedDerivation` is the derivation itself, outputs come from its realisations;
/// - a derivation Nix resolved first (CA or deferred inputs, or a fixed-output derivation with
///   inputs): the hook runs for the unresolved one after the resolved build; the recorder
///   resolves it again from the realised inputs, requires the result to be the `.drv` Nix wrote,
///   and records both paths.
struct BuildStepRecorder {
    let storeDir: String
    /// Real file-system prefix of the store (empty for `/nix/store` itself; `ROOT` for a chroot store `--store ROOT`).
    let storeRoot: String
    let database: NixStoreDB?

    func real(_ path: String) -> String { storeRoot + path }

    func loadDerivation(_ path: String) throws -> Derivation {
        let sp = try StorePath(absolutePath: path, storeDir: storeDir)
        guard sp.isDerivation else { throw CLIError("\(path) is not a .drv path") }
        return try Derivation(aterm: FileIO.read(path: real(path), limit: ATerm.maximumSize), name: String(sp.name.dropLast(4)), source: path)
    }

    func narHash(of path: StorePath, preferDatabase: Bool) throws -> (hash: NixHash, size: UInt64) {
        if preferDatabase, let info = database?.narInfo(path: path.absolute) { return info }
        return try NAR.hash(path: real(path.absolute))
    }

    func record(drvPath: String, outPaths: [String], builder: NixPublicKey, implementation: String, version: String,
                invocationID: String, finishedOn: String, attestations: [BuildTrace.Attestation]) throws -> BuildTrace {
        let drvStorePath = try StorePath(absolutePath: drvPath, storeDir: storeDir)
        let drv = try loadDerivation(drvPath)
        var hasher = DerivationHasher { try self.loadDerivation($0) }
        let kind = try drv.kind()

        var realised: [InputOutput: StorePath] = [:]
        for (inputPath, wanted) in drv.inputDrvs {
            let input = try loadDerivation(inputPath)
            let known = try hasher.outputPaths(input, storeDir: storeDir)
            for output in wanted {
                if let path = known[output] ?? nil {
                    realised[InputOutput(drvPath: inputPath, output: output)] = path
                    continue
                }
                guard let id = try hasher.realisationIDs(input)[output] else { throw CLIError("\(inputPath) has no output '\(output)'") }
                guard let path = database?.realisation(hashModulo: "sha256:\(id.hashModulo.base16)", output: output) else {
                    throw CLIError("no realisation of \(id) (\(inputPath)!\(output)) in the store database")
                }
                realised[InputOutput(drvPath: inputPath, output: output)] = try StorePath(absolutePath: path, storeDir: storeDir)
            }
        }

        let resolvable: Bool
        switch kind {
        case .inputAddressed: resolvable = false
        case .fixedOutput, .floatingContentAddressed, .deferred, .impure: resolvable = !drv.inputDrvs.isEmpty
        }
        var built = drv
        var resolvedPath: StorePath?
        if resolvable {
            built = try drv.resolved(with: realised, storeDir: storeDir)
            let path = try built.storePath(storeDir: storeDir)
            guard FileIO.exists(real(path.absolute)) else {
                throw CLIError("resolving \(drvPath) gives \(path.absolute), which Nix did not write; refusing to record a resolution Nix did not build")
            }
            resolvedPath = path
        } else if case .floatingContentAddressed = kind {
            resolvedPath = drvStorePath
        }

        var outputs: [BuildTrace.Output] = []
        let builtKind = try built.kind()
        for name in built.outputNames {
            var path: StorePath?
            if !built.outputs[name]!.path.isEmpty {
                path = try StorePath(absolutePath: built.outputs[name]!.path, storeDir: storeDir)
            } else {
                // The store's realisation is authoritative; OUT_PATHS may be stale (Nix keeps a value already
                // set in its environment), so it is only a fallback when the database cannot be read.
                let wantedName = StorePath.outputPathName(derivationName: drv.name, output: name)
                let given = try outPaths.first(where: { (try? StorePath(absolutePath: $0, storeDir: storeDir))?.name == wantedName })
                    .map { try StorePath(absolutePath: $0, storeDir: storeDir) }
                var realisedPath: StorePath?
                if case .floatingContentAddressed = builtKind, let id = try hasher.realisationIDs(built)[name],
                   let found = database?.realisation(hashModulo: "sha256:\(id.hashModulo.base16)", output: name) {
                    realisedPath = try StorePath(absolutePath: found, storeDir: storeDir)
                }
                if let realisedPath, let given, given != realisedPath {
                    throw CLIError("OUT_PATHS names \(given) for output '\(name)', but the store realised \(realisedPath); refusing to sign")
                }
                path = realisedPath ?? (database == nil ? given : nil)
            }
            guard let path else { throw CLIError("cannot find the path of output '\(name)' of \(drvPath) (no OUT_PATHS entry, no realisation)") }
            guard FileIO.exists(real(path.absolute)) else { throw CLIError("output '\(name)' \(path.absolute) is not in the store") }
            let (hash, size) = try narHash(of: path, preferDatabase: false)
            outputs.append(BuildTrace.Output(name: name, path: path, narHash: hash, narSize: size))
        }

        var origin: [StorePath: InputOutput] = [:]
        for (key, path) in realised { origin[path] = key }
        var inputPaths = Set(try built.inputSrcs.map { try StorePath(absolutePath: $0, storeDir: storeDir) })
        if !resolvable { inputPaths.formUnion(realised.values) }
        var inputs: [BuildTrace.Input] = []
        for path in inputPaths.sorted() {
            let (hash, _) = try narHash(of: path, preferDatabase: true)
            let from = origin[path]
            inputs.append(BuildTrace.Input(path: path, narHash: hash,
                                           derivation: try from.map { try StorePath(absolutePath: $0.drvPath, storeDir: storeDir) },
                                           output: from?.output))
        }
        return BuildTrace(
            derivation: drvStorePath, resolvedDerivation: resolvedPath, system: drv.platform.string, outputs: outputs, inputs: inputs,
            builderKey: builder, implementation: implementation, implementationVersion: version,
            finishedOn: finishedOn, invocationID: invocationID, builtBySigner: true, attestations: attestations)
    }
}

enum Clock {
    /// Now as RFC 3339 UTC with second precision.
    static func rfc3339Now() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }
}
