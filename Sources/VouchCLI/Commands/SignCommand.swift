import ArgumentParser
import Foundation
import NixFormats
import VouchTrace

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a build trace for a build Nix just ran (use as Nix's post-build-hook).",
        discussion: """
            Reads DRV_PATH and OUT_PATHS from the environment, as Nix's post-build-hook sets them \
            (or --drv-path/--out-paths). Writes one DSSE envelope per call to --out and/or uploads it \
            to a Vouch server with --to (authenticated by --token-file, $VOUCH_TOKEN, or else a request \
            signed by the builder key, which must be registered with the server). A problem never \
            fails the build unless --strict: it is logged on stderr and the exit status is 0. \
            See docs/trace-format.md for what each hook invocation yields.
            """)

    @Option(help: "Builder's Nix secret key file.") var keyFile: String
    @Option(help: "Directory to write envelopes to (created if missing).") var out: String?
    @Option(help: "Vouch server to upload the trace to (repeatable).") var to: [String] = []
    @Option(help: "File holding an upload token for --to (default: $VOUCH_TOKEN).") var tokenFile: String?
    @Option(help: "Derivation that was built (default: $DRV_PATH).") var drvPath: String?
    @Option(help: "Space-separated output paths (default: $OUT_PATHS).") var outPaths: String?
    @Option(help: "Real location of the store root for a chroot store (the ROOT of --store ROOT).") var storeRoot: String = ""
    @Option(help: "Nix store database (default: <store root>/nix/var/nix/db/db.sqlite).") var database: String?
    @Option(help: "Build tool version to record (default: from 'nix-store --version').") var nixVersion: String?
    @Option(help: "Attach typed attestation evidence: TYPE=FILE (repeatable).") var attestation: [String] = []
    @Flag(help: "Fail (exit 2) when the trace cannot be made or written.") var strict = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard out != nil || !to.isEmpty else { throw ValidationError("give --out DIR and/or --to URL") }
    }

    func run() async throws {
        do {
            try await sign()
        } catch {
            if strict { throw error }
            Output.error("sign: warning: no trace for \(drvPath ?? ProcessInfo.processInfo.environment["DRV_PATH"] ?? "?"): \(error)")
        }
    }

    private func sign() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let drv = drvPath ?? env["DRV_PATH"], !drv.isEmpty else { throw CLIError("DRV_PATH is not set (run as post-build-hook or pass --drv-path)") }
        let outs = (outPaths ?? env["OUT_PATHS"] ?? "").split(separator: " ").map(String.init)
        let key = try NixSecretKey(parsing: FileIO.readText(path: keyFile, limit: 4096), source: keyFile)
        var evidence: [BuildTrace.Attestation] = []
        for item in attestation {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else { throw CLIError("--attestation '\(item)' must be TYPE=FILE") }
            evidence.append(.init(type: String(item[..<eq]), evidence: try FileIO.read(path: String(item[item.index(after: eq)...]), limit: 1 << 20)))
        }
        let dbPath = database ?? "\(storeRoot)/nix/var/nix/db/db.sqlite"
        let recorder = BuildStepRecorder(storeDir: store.storeDir, storeRoot: storeRoot, database: NixStoreDB(path: dbPath))
        let trace = try recorder.record(
            drvPath: drv, outPaths: outs, builder: key.publicKey, implementation: "nix", version: nixVersion ?? Self.detectNixVersion(),
            invocationID: UUID().uuidString.lowercased(), finishedOn: Clock.rfc3339Now(), attestations: evidence)
        let signed = try SignedTrace(signing: trace, with: key)
        if let out {
            try FileIO.makeDirectory(out)
            let digest = HashAlgorithm.sha256.digest(signed.envelope.payload).base16.prefix(12)
            let name = "\(trace.derivation.baseName).\(key.name).\(digest).dsse.json"
            try FileIO.writeAtomically(path: "\(out)/\(name)", bytes: signed.envelope.json + [0x0a])
            Output.error("sign: trace for \(trace.derivation.absolute) written to \(out)/\(name)")
        }
        let credentials: CacheClient.Credentials
        if let tokenFile {
            credentials = .token(try FileIO.readText(path: tokenFile, limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let token = env["VOUCH_TOKEN"], !token.isEmpty {
            credentials = .token(token)
        } else {
            credentials = .builderKey(key)
        }
        var failures: [String] = []
        for url in to {
            do {
                let client = try CacheClient(base: url, credentials: credentials, storeDir: store.storeDir)
                let created = try await client.upload(trace: signed.envelope.json)
                Output.error("sign: trace for \(trace.derivation.absolute) \(created ? "uploaded to" : "already on") \(client.base)")
            } catch {
                failures.append("\(error)")
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "; ")) }
    }

    static func detectNixVersion() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nix-store", "--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.split(separator: " ").last.map(String.init) ?? "unknown"
    }
}
