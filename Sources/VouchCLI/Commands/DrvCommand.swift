import ArgumentParser
import NixFormats

struct StoreOptions: ParsableArguments {
    @Option(help: "Logical store directory.") var storeDir: String = StorePath.defaultStoreDir
}

/// A `.drv` file operand with its name and store options; loads it with a reader that also
/// finds its input derivations.
struct DrvFileArguments: ParsableArguments {
    @Argument(help: ".drv file.") var file: String
    @Option(help: "Derivation name (default: from the file name).") var name: String?
    @OptionGroup var store: StoreOptions

    func load(defaultName: String? = nil) throws -> (Box<DerivationFiles>, Derivation) {
        let box = Box(DerivationFiles(storeDir: store.storeDir))
        return (box, try box.value.load(file: file, name: name ?? defaultName))
    }
}

struct DrvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drv",
        abstract: "Read derivations (.drv ATerm files) and compute what Nix computes from them.",
        subcommands: [Path.self, Show.self, Outputs.self, ATermCmd.self, Resolve.self, RealisationIDs.self])

    struct Path: ParsableCommand, BulkCapable {
        static let configuration = CommandConfiguration(
            abstract: "Print the store path of each .drv file, computed from its ATerm.",
            discussion: "A JSON file from 'nix show-derivation' or 'nix derivation show' is also accepted; its keys are checked against the computed paths.")
        @Argument(help: ".drv files, or JSON files.") var files: [String]
        @Option(help: "Derivation name (default: from a '<hash>-<name>.drv' file name).") var name: String?
        @OptionGroup var store: StoreOptions

        func run() throws {
            var reader = DerivationFiles(storeDir: store.storeDir)
            for file in files.withBulkTail {
                let bytes = try FileIO.read(path: file, limit: ATerm.maximumSize)
                if bytes.first == UInt8(ascii: "{") {
                    let all = try DerivationJSON.parse(bytes, source: file, storeDir: store.storeDir)
                    for key in all.keys.sorted() {
                        let computed = try all[key]!.storePath(storeDir: store.storeDir).absolute
                        guard computed == key else { throw CLIError("\(file): derivation \(key) hashes to \(computed)") }
                        Output.out(computed + "\n")
                    }
                } else {
                    let drv = try reader.load(file: file, name: name, bytes: bytes)
                    Output.out(try drv.storePath(storeDir: store.storeDir).absolute + "\n")
                }
            }
        }
    }

    struct Show: ParsableCommand, BulkCapable {
        static let configuration = CommandConfiguration(abstract: "Print derivations as 'nix show-derivation' (2.8) JSON.")
        @Argument(help: ".drv files.") var files: [String]
        @Flag(name: .shortAndLong, help: "Include input derivations, recursively.") var recursive = false
        @Option(help: "Derivation name (default: from the file name).") var name: String?
        @OptionGroup var store: StoreOptions

        func run() throws {
            let box = Box(DerivationFiles(storeDir: store.storeDir))
            var result: [String: Derivation] = [:]
            var queue: [String] = []
            for file in files.withBulkTail {
                let drv = try box.value.load(file: file, name: name)
                let path = try drv.storePath(storeDir: store.storeDir).absolute
                result[path] = drv
                queue.append(contentsOf: drv.inputDrvs.keys)
            }
            while recursive, let next = queue.popLast() {
                if result[next] != nil { continue }
                let drv = try box.value.load(storePath: next)
                result[next] = drv
                queue.append(contentsOf: drv.inputDrvs.keys)
            }
            (DerivationJSON.render(result.map { ($0.key, $0.value) }) + [0x0a]).withUnsafeBytes { Output.write($0) }
        }
    }

    struct Outputs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print 'NAME PATH' for each output, computed as Nix does (input-addressed and fixed-output).",
            discussion: "Input derivations are read from the same directory as FILE, else from the store. Outputs whose path is only known after a build print 'NAME' and the kind in angle brackets. The recorded output paths must match the computed ones.")
        @OptionGroup var input: DrvFileArguments

        func run() throws {
            let (box, drv) = try input.load()
            let store = input.store
            var hasher = DerivationFiles.hasher(box)
            let paths = try hasher.outputPaths(drv, storeDir: store.storeDir)
            try hasher.checkOutputPaths(drv, storeDir: store.storeDir)
            let kind = try drv.kind()
            for output in drv.outputNames {
                if let path = paths[output] ?? nil {
                    Output.out("\(output) \(path.absolute)\n")
                } else {
                    let label: String
                    switch kind {
                    case .floatingContentAddressed: label = "<content-addressed>"
                    case .impure: label = "<impure>"
                    default: label = "<deferred>"
                    }
                    Output.out("\(output) \(label)\n")
                }
            }
        }
    }

    struct ATermCmd: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "aterm", abstract: "Parse a .drv file and write its ATerm serialisation back to standard output.")
        @OptionGroup var input: DrvFileArguments

        func run() throws {
            let (_, drv) = try input.load(defaultName: "drv")
            drv.aterm.withUnsafeBytes { Output.write($0) }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve a derivation against realised input paths and print the resolved .drv path.",
            discussion: "Each --input maps an input derivation output to the store path it was realised as: DRVPATH!OUTPUT=STOREPATH. Inputs not given are computed from their .drv files when their outputs are input-addressed or fixed.")
        @OptionGroup var input: DrvFileArguments
        @Option(name: .customLong("input"), help: "DRVPATH!OUTPUT=STOREPATH (repeatable).") var inputs: [String] = []
        @Flag(help: "Print the resolved ATerm instead of its path.") var aterm = false

        func run() throws {
            let (box, drv) = try input.load()
            let store = input.store
            var realised: [InputOutput: StorePath] = [:]
            for mapping in inputs {
                guard let eq = mapping.firstIndex(of: "="), let bang = mapping[..<eq].lastIndex(of: "!") else {
                    throw CLIError("--input '\(mapping)' must be DRVPATH!OUTPUT=STOREPATH")
                }
                let key = InputOutput(drvPath: String(mapping[..<bang]), output: String(mapping[mapping.index(after: bang)..<eq]))
                realised[key] = try StorePath(absolutePath: String(mapping[mapping.index(after: eq)...]), storeDir: store.storeDir)
            }
            var hasher = DerivationFiles.hasher(box)
            for (path, wanted) in drv.inputDrvs {
                for output in wanted where realised[InputOutput(drvPath: path, output: output)] == nil {
                    let input = try box.value.load(storePath: path)
                    guard let computed = try hasher.outputPaths(input, storeDir: store.storeDir)[output] ?? nil else {
                        throw CLIError("output '\(output)' of \(path) is content-addressed; give it with --input \(path)!\(output)=STOREPATH")
                    }
                    realised[InputOutput(drvPath: path, output: output)] = computed
                }
            }
            let resolved = try drv.resolved(with: realised, storeDir: store.storeDir)
            if aterm {
                resolved.aterm.withUnsafeBytes { Output.write($0) }
            } else {
                Output.out(try resolved.storePath(storeDir: store.storeDir).absolute + "\n")
            }
        }
    }

    struct RealisationIDs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "realisation-ids",
            abstract: "Print each output's realisation id (sha256:<masked hashDerivationModulo>!OUTPUT).")
        @OptionGroup var input: DrvFileArguments

        func run() throws {
            let (box, drv) = try input.load()
            let store = input.store
            var hasher = DerivationFiles.hasher(box)
            let ids = try hasher.realisationIDs(drv)
            for output in drv.outputNames { Output.out("\(ids[output]!)\n") }
        }
    }
}
