import ArgumentParser
import Crypto
import NixFormats
import VouchServer
import VouchStore
#if canImport(Glibc)
import Glibc
#endif

/// `vouch serve`: run the cache server, and administer its keys, tokens and conflict log.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Vouch binary cache and trace server, or administer its data directory.",
        discussion: "The HTTP API is described in docs/http-api.md.",
        subcommands: [Run.self, Keys.self, Tokens.self, Conflicts.self],
        defaultSubcommand: Run.self)

    /// `--data DIR`: the server's storage (created if missing).
    struct DataDirectory: ParsableArguments {
        @Option(help: "Data directory: vouch.sqlite and blobs/ (created if missing).") var data: String

        func open() throws -> StoreDirectory {
            do { return try StoreDirectory.open(path: data) } catch { throw CLIError("\(data): \(error)") }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Serve the data directory over HTTP (the default subcommand).",
            discussion: "Prints 'vouch: serving DIR on http://HOST:PORT' on stderr once listening; SIGINT or SIGTERM stop it gracefully.")

        @OptionGroup var directory: DataDirectory
        @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).") var listen = "127.0.0.1:8080"
        @Option(help: "Secret key file; its signature is added to every narinfo served.") var signKeyFile: String?
        @Flag(help: "Require credentials for reads too.") var privateReads = false
        @Option(help: "Largest NAR upload in bytes (default 16 GiB).") var maxNarSize: UInt64 = BodyLimits.defaultMaximumNARSize

        func run() async throws {
            let (host, port) = try Self.parseListen(listen)
            let key = try signKeyFile.map { try NixSecretKey(parsing: FileIO.readText(path: $0, limit: 4096), source: $0) }
            let store = try directory.open()
            defer { store.close() }
            let configuration = ServerConfiguration(host: host, port: port, storage: store.metadata, blobs: store.blobs,
                                                    signingKey: key, privateReads: privateReads, maximumNARSize: maxNarSize)
            let data = directory.data
            try await VouchServer.run(configuration) { host, port in
                let shown = host.contains(":") ? "[\(host)]" : host
                Output.error("serving \(data) on http://\(shown):\(port)")
            }
        }

        /// `HOST:PORT` or `[IPv6]:PORT`.
        static func parseListen(_ text: String) throws -> (String, Int) {
            var host: Substring
            var portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                    throw CLIError("--listen '\(text)' must be HOST:PORT or [IPv6]:PORT")
                }
                host = text[text.index(after: text.startIndex) ..< close]
                portText = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { throw CLIError("--listen '\(text)' must be HOST:PORT") }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
                throw CLIError("--listen '\(text)' must be HOST:PORT with a port from 0 to 65535")
            }
            return (String(host), port)
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "Builder keys whose signed traces and signed requests the server accepts.",
            subcommands: [Add.self, List.self, Remove.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Register a builder's public key.")
            @Argument(help: "Public key 'name:base64' (or use --key-file).") var key: String?
            @Option(help: "File holding the public key.") var keyFile: String?
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                let key: NixPublicKey
                switch (self.key, keyFile) {
                case (let text?, nil): key = try NixPublicKey(parsing: text, source: "key")
                case (nil, let file?): key = try NixPublicKey(parsing: FileIO.readText(path: file, limit: 4096), source: file)
                default: throw CLIError("give the key as NAME:BASE64 or with --key-file, not both")
                }
                let store = try directory.open()
                defer { store.close() }
                do {
                    _ = try await store.metadata.addKey(key)
                } catch {
                    throw CLIError("\(directory.data): \(error)")
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the registered keys, one 'name:base64' per line.")
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                let store = try directory.open()
                defer { store.close() }
                let keys: [NixPublicKey]
                do { keys = try await store.metadata.keys() } catch { throw CLIError("\(directory.data): \(error)") }
                for key in keys { Output.out("\(key)\n") }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Unregister the key with this name (its stored traces stay).")
            @Argument(help: "Key name.") var name: String
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                let store = try directory.open()
                defer { store.close() }
                let removed: Bool
                do { removed = try await store.metadata.removeKey(named: name) } catch { throw CLIError("\(directory.data): \(error)") }
                guard removed else { throw CLIError("no key named '\(name)' is registered") }
            }
        }
    }

    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tokens",
            abstract: "Access tokens for uploads (Bearer, or the password of HTTP Basic auth as in a netrc file).",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a token and print it once on stdout (only its SHA-256 is stored).")
            @Argument(help: "Token name.") var name: String
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                    throw CLIError("token name must be non-empty printable ASCII without spaces")
                }
                var generator = SystemRandomNumberGenerator()
                let secret = Self.base64URL((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
                let token = AccessToken(name: name, secretDigest: Array(SHA256.hash(data: Array(secret.utf8))),
                                        createdAt: Int64(time(nil)))
                let store = try directory.open()
                defer { store.close() }
                do { try await store.metadata.addToken(token) } catch { throw CLIError("\(directory.data): \(error)") }
                Output.out(secret + "\n")
            }

            /// Base64url without padding (43 characters for 32 bytes): safe in netrc files and headers.
            static func base64URL(_ bytes: [UInt8]) -> String {
                String(Base64.encode(bytes).compactMap { char -> Character? in
                    switch char {
                    case "+": "-"
                    case "/": "_"
                    case "=": nil
                    default: char
                    }
                })
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print token names and creation times (never the secrets).")
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                let store = try directory.open()
                defer { store.close() }
                let tokens: [AccessToken]
                do { tokens = try await store.metadata.tokens() } catch { throw CLIError("\(directory.data): \(error)") }
                for token in tokens { Output.out("\(token.name)\tcreated \(utcTimestamp(token.createdAt))\n") }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke the token with this name at once.")
            @Argument(help: "Token name.") var name: String
            @OptionGroup var directory: DataDirectory

            func run() async throws {
                let store = try directory.open()
                defer { store.close() }
                let revoked: Bool
                do { revoked = try await store.metadata.revokeToken(named: name) } catch { throw CLIError("\(directory.data): \(error)") }
                guard revoked else { throw CLIError("no token named '\(name)'") }
            }
        }
    }

    struct Conflicts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conflicts",
            abstract: "Print refused conflicting uploads, newest first: time, kind, key and what differed.")
        @Option(help: "How many to print.") var limit = 1000
        @OptionGroup var directory: DataDirectory

        func run() async throws {
            let store = try directory.open()
            defer { store.close() }
            let records: [ConflictRecord]
            do { records = try await store.metadata.conflicts(limit: limit) } catch { throw CLIError("\(directory.data): \(error)") }
            for record in records { Output.out("\(utcTimestamp(record.at)) \(record.kind) \(record.key): \(record.detail)\n") }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970.
private func utcTimestamp(_ seconds: Int64) -> String {
    var time = time_t(seconds)
    var parts = tm()
    guard gmtime_r(&time, &parts) != nil else { return String(seconds) }
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
