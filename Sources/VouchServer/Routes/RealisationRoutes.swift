import HTTPTypes
import Hummingbird
import NIOCore
import NixFormats
import VouchStore
import VouchTrace

/// Nix 2.8 realisations (`realisations/<sha256:hex>!<output>.doi`) and current Nix's build
/// trace (`build-trace-v2/<drv>/<output>.doi`), the latter made from stored build traces.
struct RealisationRoutes<Context: RequestContext>: Sendable {
    let state: ServerState

    func register(on router: Router<Context>) {
        router.get("/realisations/{id}.doi") { _, context in try await getRealisation(context) }
        router.put("/realisations/{id}.doi") { request, context in try await putRealisation(request, context) }
        router.get("/build-trace-v2/{drv}/{output}.doi") { _, context in try await getBuildTraceEntry(context) }
    }

    /// The id from the URL; Nix sends `:` and `!` raw, other clients may percent-encode them.
    private func id(_ context: Context) throws(ServerError) -> DrvOutputID {
        let raw = context.parameters.get("id") ?? ""
        guard let text = PercentDecoding.decode(Substring(raw)), let id = try? DrvOutputID(parsing: text) else {
            throw ServerError.badRequest("'\(raw)' is not a realisation id 'sha256:<hex>!<output>'")
        }
        return id
    }

    func getRealisation(_ context: Context) async throws -> Response {
        let id = try id(context)
        guard let realisation = try await state.store({ storage throws(StoreError) in try await storage.realisation(id: id) }) else {
            throw ServerError.notFound("no realisation \(id)")
        }
        return .ok(ByteBuffer(string: realisation.json), contentType: "application/json")
    }

    func putRealisation(_ request: Request, _ context: Context) async throws -> Response {
        let id = try id(context)
        let credential = try await state.authenticator.authenticate(request)
        let body = try await RequestBodyReader.collect(request, limit: BodyLimits.realisation, what: "realisation")
        try credential.confirm(bodySHA256: RequestBodyReader.sha256(body))
        let realisation: Realisation
        do { realisation = try Realisation(parsing: body, source: "realisation \(id)") } catch { throw ServerError.badRequest("\(error)") }
        guard realisation.id == id else {
            throw ServerError.badRequest("realisation id \(realisation.id) does not match the URL's \(id)")
        }
        let outcome = try await state.store { storage throws(StoreError) in try await storage.putRealisation(realisation) }
        state.logWrite("realisation \(id)", outcome, by: credential)
        return .written(outcome)
    }

    /// The first stored trace (in upload order) by a currently registered key for that built
    /// derivation and output; signed by the server key when there is one, else unsigned (builder
    /// signatures cover Vouch's statement, not Nix's fingerprint, so they cannot be carried over).
    func getBuildTraceEntry(_ context: Context) async throws -> Response {
        let drv = try CacheNames.derivation(baseName: context.parameters.get("drv") ?? "")
        let output = context.parameters.get("output") ?? ""
        guard CacheNames.isOutputName(output) else { throw ServerError.badRequest("'\(output)' is not an output name") }
        let traces = try await state.store { storage throws(StoreError) in
            try await storage.traces(matching: .builtDerivationHashPart(drv.hashPart))
        }
        let registered = Set(try await state.store { storage throws(StoreError) in try await storage.keys() })
        var found: StorePath?
        for trace in traces where registered.contains(trace.signer) {
            if let path = Self.outPath(of: trace, derivation: drv, output: output) { found = path; break }
        }
        guard let outPath = found else { throw ServerError.notFound("no build trace entry for \(drv.baseName) output \(output)") }
        var entry = BuildTraceEntry(derivation: drv, outputName: output, outPath: outPath)
        if let key = state.signingKey { entry.sign(with: key) }
        return .ok(entry.valueJSON, contentType: "application/json")
    }

    /// The path `trace` records for `output` of `derivation`, if it is a trace of that build.
    static func outPath(of trace: StoredTrace, derivation: StorePath, output: String) -> StorePath? {
        switch trace.format {
        case .dsse:
            guard let signed = try? SignedTrace(parsing: trace.bytes, source: "stored trace \(trace.id)"),
                  signed.trace.builtDerivation == derivation else { return nil }
            return signed.trace.outputs.first { $0.name == output }?.path
        case .laut:
            var text = String(decoding: trace.bytes, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            guard let laut = try? LautTrace(compact: text, source: "stored trace \(trace.id)"),
                  laut.resolvedDerivationHash == derivation.hashPart else { return nil }
            return laut.outputs[output]?.path
        }
    }
}
